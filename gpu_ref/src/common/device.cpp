#include "common/device.h"

namespace gpu_ref {

GpuContext::GpuContext() {
  CHECK_CUDA(cudaSetDevice(0));
  CHECK_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  CHECK_CUBLAS(cublasCreate(&cublas));
  CHECK_CUBLAS(cublasSetStream(cublas, stream));
  // Plain IEEE fp32 (no TF32): the reference is the exact fp32 path.
  CHECK_CUBLAS(cublasSetMathMode(cublas, CUBLAS_DEFAULT_MATH));
  CHECK_CUSPARSE(cusparseCreate(&cusparse));
  CHECK_CUSPARSE(cusparseSetStream(cusparse, stream));
}

GpuContext::~GpuContext() {
  if (cusparse) cusparseDestroy(cusparse);
  if (cublas) cublasDestroy(cublas);
  if (stream) cudaStreamDestroy(stream);
}

namespace {
std::string version_str(int v) {  // 13000 -> "13.0"
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}
}  // namespace

GpuInfo query_gpu_info() {
  GpuInfo g;
  int dev = 0;
  CHECK_CUDA(cudaGetDevice(&dev));
  cudaDeviceProp p{};
  CHECK_CUDA(cudaGetDeviceProperties(&p, dev));
  g.name = p.name;
  g.compute_capability = std::to_string(p.major) + "." + std::to_string(p.minor);
  g.multiprocessors = p.multiProcessorCount;
  int rt = 0, drv = 0;
  CHECK_CUDA(cudaRuntimeGetVersion(&rt));
  CHECK_CUDA(cudaDriverGetVersion(&drv));
  g.cuda_runtime_version = version_str(rt);
  g.cuda_driver_version = version_str(drv);
  int a = 0, b = 0, c = 0;
  CHECK_CUBLAS(cublasGetProperty(MAJOR_VERSION, &a));
  CHECK_CUBLAS(cublasGetProperty(MINOR_VERSION, &b));
  CHECK_CUBLAS(cublasGetProperty(PATCH_LEVEL, &c));
  g.cublas_version = std::to_string(a) + "." + std::to_string(b) + "." + std::to_string(c);
  CHECK_CUSPARSE(cusparseGetProperty(MAJOR_VERSION, &a));
  CHECK_CUSPARSE(cusparseGetProperty(MINOR_VERSION, &b));
  CHECK_CUSPARSE(cusparseGetProperty(PATCH_LEVEL, &c));
  g.cusparse_version = std::to_string(a) + "." + std::to_string(b) + "." + std::to_string(c);
  return g;
}

}  // namespace gpu_ref
