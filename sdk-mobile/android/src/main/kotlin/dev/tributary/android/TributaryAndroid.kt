// Android glue: starts Tributary with app-private storage, follows the
// process lifecycle (ProcessLifecycleOwner) and schedules a WorkManager
// flush when the app goes to the background, so events queued at that
// moment go out even if the process is then frozen.
// NOT COMPILED IN CI (needs the Android SDK); see build.gradle.kts.
package dev.tributary.android

import android.content.Context
import androidx.lifecycle.DefaultLifecycleObserver
import androidx.lifecycle.LifecycleOwner
import androidx.lifecycle.ProcessLifecycleOwner
import androidx.work.Constraints
import androidx.work.CoroutineWorker
import androidx.work.ExistingWorkPolicy
import androidx.work.NetworkType
import androidx.work.OneTimeWorkRequestBuilder
import androidx.work.WorkManager
import androidx.work.WorkerParameters
import dev.tributary.Tributary
import dev.tributary.TributaryOptions
import java.io.File

object TributaryAndroid {
    /** Call from `Application.onCreate`. */
    fun start(context: Context, writeKey: String, endpoint: String, options: TributaryOptions.() -> Unit = {}) {
        val app = context.applicationContext
        Tributary.configure(writeKey, endpoint, File(app.filesDir, "tributary"), options)
        ProcessLifecycleOwner.get().lifecycle.addObserver(object : DefaultLifecycleObserver {
            override fun onStart(owner: LifecycleOwner) = Tributary.onForeground()
            override fun onStop(owner: LifecycleOwner) {
                Tributary.onBackground()
                val work = OneTimeWorkRequestBuilder<FlushWorker>()
                    .setConstraints(Constraints.Builder().setRequiredNetworkType(NetworkType.CONNECTED).build())
                    .build()
                WorkManager.getInstance(app).enqueueUniqueWork("tributary-flush", ExistingWorkPolicy.REPLACE, work)
            }
        })
    }
}

/** Flushes the queue with the time WorkManager grants a background job. */
class FlushWorker(context: Context, params: WorkerParameters) : CoroutineWorker(context, params) {
    override suspend fun doWork(): Result {
        val report = Tributary.flush(deadlineMs = 60_000)
        return if (report.remaining == 0uL) Result.success() else Result.retry()
    }
}
