// Android library module for Tributary. Build steps (README "Android"):
//   cargo install cargo-ndk
//   rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android
//   cargo ndk -t arm64-v8a -t armeabi-v7a -t x86_64 -o sdk-mobile/android/src/main/jniLibs \
//       build --profile release-mobile -p tributary-sdk-mobile
//   ./gradlew :tributary:assembleRelease
// NOT BUILT IN CI: no Android SDK on the project's build machines. The
// Kotlin sources it shares with the JVM tests are compiled and tested there.
plugins {
    id("com.android.library") version "8.7.3"
    kotlin("android") version "2.1.0"
}

android {
    namespace = "dev.tributary"
    compileSdk = 35
    defaultConfig {
        minSdk = 24
        consumerProguardFiles("consumer-rules.pro")
    }
    sourceSets["main"].apply {
        // Generated bindings + the shared idiomatic layer + Android glue.
        java.srcDirs("../bindings/kotlin", "../kotlin/src/main/kotlin", "src/main/kotlin")
        jniLibs.srcDirs("src/main/jniLibs")
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions { jvmTarget = "17" }
}

dependencies {
    implementation("net.java.dev.jna:jna:5.17.0@aar")
    implementation("androidx.lifecycle:lifecycle-process:2.8.7")
    implementation("androidx.work:work-runtime-ktx:2.10.0")
}
