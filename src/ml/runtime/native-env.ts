/**
 * Environment TensorFlow reads once, as its library loads; set here (unless the user set it)
 * before any TensorFlow package is required, in the main thread (a worker thread's process.env
 * is a copy TensorFlow never sees).
 *
 * - TF_CPP_MIN_LOG_LEVEL=2: TensorFlow's C++ info and warning lines stay off stderr.
 * - TF_ENABLE_ONEDNN_OPTS=1: TensorFlow turns oneDNN on by default only on CPUs with AVX512-VNNI
 *   or newer; on an AVX2-only host it is off, training runs at about half speed and the CPU has
 *   no gradient kernel for dilated convolutions (`Conv2DBackpropFilter` "dilation rates larger
 *   than 1"). Turning it on everywhere gives every worker host the same kernels and features.
 */
export function setNativeEnvDefaults(): void {
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
  process.env.TF_ENABLE_ONEDNN_OPTS ??= '1';
}
