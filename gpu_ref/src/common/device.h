#pragma once
// Device-side helpers shared by the algorithm pieces: an owning device
// buffer, the stream + library handles, and the GPU description for meta.json.
#include <algorithm>
#include <cstddef>
#include <string>
#include <utility>

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusparse.h>

#include "common/error.h"

namespace gpu_ref {

// Owning cudaMalloc'd array of T that only grows (ensure()), so that the
// timed repeats after the first run allocate nothing.
template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t count) { ensure(count); }
  ~DeviceBuffer() {
    if (ptr_) cudaFree(ptr_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), count_(std::exchange(o.count_, 0)) {}

  // Grows to at least `count` elements; the old contents are not kept.
  void ensure(size_t count) {
    if (count <= count_ && ptr_) return;
    if (ptr_) CHECK_CUDA(cudaFree(ptr_));
    ptr_ = nullptr;
    count_ = 0;
    CHECK_CUDA(cudaMalloc(&ptr_, std::max<size_t>(count, 1) * sizeof(T)));
    count_ = count;
  }
  T* get() const { return ptr_; }
  size_t size() const { return count_; }
  size_t bytes() const { return count_ * sizeof(T); }

  void upload(const T* host, size_t count, cudaStream_t s) {
    ensure(count);
    CHECK_CUDA(cudaMemcpyAsync(ptr_, host, count * sizeof(T), cudaMemcpyHostToDevice, s));
  }
  void download(T* host, size_t count, cudaStream_t s) const {
    CHECK_CUDA(cudaMemcpyAsync(host, ptr_, count * sizeof(T), cudaMemcpyDeviceToHost, s));
  }
  // Fills the first `count` elements with the byte `value` (0xFF poisons
  // floats with NaN, so a never-written element shows up in the checks).
  void fill_bytes(int value, size_t count, cudaStream_t s) {
    CHECK_CUDA(cudaMemsetAsync(ptr_, value, count * sizeof(T), s));
  }

 private:
  T* ptr_ = nullptr;
  size_t count_ = 0;
};

// One stream with a cuBLAS and a cuSPARSE handle bound to it.
class GpuContext {
 public:
  GpuContext();
  ~GpuContext();
  GpuContext(const GpuContext&) = delete;
  GpuContext& operator=(const GpuContext&) = delete;

  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  cusparseHandle_t cusparse = nullptr;

  void sync() const { CHECK_CUDA(cudaStreamSynchronize(stream)); }
};

struct GpuInfo {
  std::string name, compute_capability, cuda_runtime_version, cuda_driver_version, cublas_version, cusparse_version;
  int multiprocessors = 0;
};
GpuInfo query_gpu_info();

}  // namespace gpu_ref
