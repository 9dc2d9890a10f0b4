#pragma once
// Top-k by a stable segmented sort (CUB DeviceSegmentedSort; CUDA 13.0's CCCL
// has no DeviceTopK): each segment's (key, value) pairs sorted by key,
// largest first, equal keys kept in input order. The first k of a segment are
// then its top k with ties resolved in index order, as the simulator's
// quick-select (src/kernels/topk.cpp) and top_k_indices resolve them.
// Include only from .cu files.
#include <cstdint>

#include <cub/device/device_segmented_sort.cuh>

#include "common/device.h"

namespace gpu_ref {

// Segment s is [begin_offsets[s], end_offsets[s]). `temp` grows as needed.
template <class Key>
void stable_sort_descending(DeviceBuffer<char>& temp, const Key* keys_in, Key* keys_out, const int* values_in,
                            int* values_out, int64_t items, int64_t segments, const int* begin_offsets,
                            const int* end_offsets, cudaStream_t stream) {
  if (items <= 0 || segments <= 0) return;
  size_t bytes = 0;
  CHECK_CUDA(cub::DeviceSegmentedSort::StableSortPairsDescending(nullptr, bytes, keys_in, keys_out, values_in,
                                                                 values_out, items, segments, begin_offsets,
                                                                 end_offsets, stream));
  temp.ensure(bytes);
  CHECK_CUDA(cub::DeviceSegmentedSort::StableSortPairsDescending(temp.get(), bytes, keys_in, keys_out, values_in,
                                                                 values_out, items, segments, begin_offsets,
                                                                 end_offsets, stream));
}

}  // namespace gpu_ref
