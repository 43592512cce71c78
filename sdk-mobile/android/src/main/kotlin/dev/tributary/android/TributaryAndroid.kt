// Android glue: starts Tributary with app-private storage and the app's
// version, follows the process lifecycle (ProcessLifecycleOwner), reports
// each resumed activity as a screen (automatic screen capture; the core
// decides whether it is recorded) and the launch intent's deep link, and
// schedules a WorkManager flush when the app goes to the background, so
// events queued at that moment go out even if the process is then frozen.
// Crashes are captured by the Kotlin layer's uncaught-exception handler,
// which chains to Android's own (that kills the process).
// NOT COMPILED IN CI (needs the Android SDK); see build.gradle.kts.
package dev.tributary.android

import android.app.Activity
import android.app.Application
import android.content.Context
import android.os.Bundle
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
        val pkg = runCatching { app.packageManager.getPackageInfo(app.packageName, 0) }.getOrNull()
        Tributary.configure(writeKey, endpoint, File(app.filesDir, "tributary")) {
            appVersion = pkg?.versionName
            @Suppress("DEPRECATION")
            appBuild = pkg?.versionCode?.toString()
            options()
        }
        (app as? Application)?.registerActivityLifecycleCallbacks(object : Application.ActivityLifecycleCallbacks {
            override fun onActivityCreated(a: Activity, b: Bundle?) {
                a.intent?.data?.let { Tributary.openedUrl(it.toString()) }
            }
            override fun onActivityResumed(a: Activity) = Tributary.screenViewed(a.javaClass.simpleName)
            override fun onActivityStarted(a: Activity) {}
            override fun onActivityPaused(a: Activity) {}
            override fun onActivityStopped(a: Activity) {}
            override fun onActivitySaveInstanceState(a: Activity, b: Bundle) {}
            override fun onActivityDestroyed(a: Activity) {}
        })
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
