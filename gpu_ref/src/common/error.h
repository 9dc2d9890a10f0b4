#pragma once
// Errors of gpu_ref. Two kinds, reported by main() as one line on stderr:
//   InputError   "gpu_ref: error: <file>: <what>"  exit 2 (bad dump, bad arguments)
//   GpuError     "gpu_ref: error: <call>: <what>"  exit 1 (a CUDA/cuBLAS/cuSPARSE failure)
// The CHECK_* macros wrap every library call so that a failure names the call.
#include <stdexcept>
#include <string>

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusparse.h>

namespace gpu_ref {

class InputError : public std::runtime_error {
 public:
  InputError(std::string file, const std::string& what)
      : std::runtime_error(what), file_(std::move(file)) {}
  const std::string& file() const { return file_; }

 private:
  std::string file_;
};

class GpuError : public std::runtime_error {
 public:
  GpuError(std::string call, const std::string& what) : std::runtime_error(what), call_(std::move(call)) {}
  const std::string& call() const { return call_; }

 private:
  std::string call_;
};

// A program's main(): runs `run`, reports its errors as one line naming the
// program, and returns the exit status above.
int main_with_errors(const char* program, int (*run)(int, char**), int argc, char** argv);

[[noreturn]] void throw_cuda(cudaError_t e, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas(cublasStatus_t s, const char* call, const char* file, int line);
[[noreturn]] void throw_cusparse(cusparseStatus_t s, const char* call, const char* file, int line);

}  // namespace gpu_ref

#define CHECK_CUDA(call)                                                          \
  do {                                                                            \
    const cudaError_t e_ = (call);                                                \
    if (e_ != cudaSuccess) ::gpu_ref::throw_cuda(e_, #call, __FILE__, __LINE__);  \
  } while (0)

// After a kernel launch: a bad launch configuration shows up here at once.
#define CHECK_LAUNCH(name) CHECK_CUDA(cudaGetLastError())

#define CHECK_CUBLAS(call)                                                                      \
  do {                                                                                          \
    const cublasStatus_t s_ = (call);                                                           \
    if (s_ != CUBLAS_STATUS_SUCCESS) ::gpu_ref::throw_cublas(s_, #call, __FILE__, __LINE__);    \
  } while (0)

#define CHECK_CUSPARSE(call)                                                                    \
  do {                                                                                          \
    const cusparseStatus_t s_ = (call);                                                         \
    if (s_ != CUSPARSE_STATUS_SUCCESS) ::gpu_ref::throw_cusparse(s_, #call, __FILE__, __LINE__);\
  } while (0)
