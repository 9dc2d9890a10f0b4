#include "common/error.h"

#include <cstring>
#include <iostream>

namespace gpu_ref {

namespace {
// "cudaMalloc(&p, n)" -> "cudaMalloc": the call's name leads the one-line message.
std::string call_name(const char* call) {
  const char* paren = std::strchr(call, '(');
  return paren ? std::string(call, paren) : std::string(call);
}
std::string where(const char* call, const char* file, int line) {
  const char* base = std::strrchr(file, '/');
  return std::string(call) + " at " + (base ? base + 1 : file) + ":" + std::to_string(line);
}
}  // namespace

int main_with_errors(const char* program, int (*run)(int, char**), int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const InputError& e) {
    std::cerr << program << ": error: " << e.file() << ": " << e.what() << "\n";
    return 2;
  } catch (const GpuError& e) {
    std::cerr << program << ": error: " << e.call() << ": " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << program << ": error: internal: " << e.what() << "\n";
    return 1;
  }
}

void throw_cuda(cudaError_t e, const char* call, const char* file, int line) {
  throw GpuError(call_name(call), std::string(cudaGetErrorName(e)) + " (" + cudaGetErrorString(e) + ") in " +
                                      where(call, file, line));
}

void throw_cublas(cublasStatus_t s, const char* call, const char* file, int line) {
  throw GpuError(call_name(call), std::string(cublasGetStatusName(s)) + " (" + cublasGetStatusString(s) + ") in " +
                                      where(call, file, line));
}

void throw_cusparse(cusparseStatus_t s, const char* call, const char* file, int line) {
  throw GpuError(call_name(call), std::string(cusparseGetErrorName(s)) + " (" + cusparseGetErrorString(s) +
                                      ") in " + where(call, file, line));
}

}  // namespace gpu_ref
