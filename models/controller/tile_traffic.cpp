#include "controller/tile_traffic.h"

#include <algorithm>
#include <vector>

namespace attnsim {

int64_t needed_keys(const CsrMask& mask, int block) {
  std::vector<int64_t> kept((mask.cols + block - 1) / block, 0);
  mask.count_blocks(0, mask.rows, block, kept);
  int64_t keys = 0;
  for (size_t x = 0; x < kept.size(); ++x)
    if (kept[x]) keys += std::min<int64_t>(block, mask.cols - static_cast<int64_t>(x) * block);
  return keys;
}

TileTraffic tile_traffic(const TileTrafficInput& in, const SramBuffer& score, const SramBuffer& output) {
  TileTraffic t;
  const int64_t row_bytes = in.head_dim * in.element_bytes, head_bytes = in.seq_len * row_bytes;
  t.q_bytes = in.active_rows * row_bytes;
  int64_t kv_dense = 0;
  if (in.kv_resident) {
    if (in.first_tile) t.k_bytes = t.v_bytes = kv_dense = head_bytes;
  } else {
    t.k_bytes = t.v_bytes = in.needed_keys * row_bytes;
    kv_dense = head_bytes;
    t.k_bytes += in.mask_unit_keys * row_bytes;
  }
  t.k_bytes = static_cast<int64_t>(static_cast<double>(t.k_bytes) * in.k_fetch_scale + 0.5);
  t.v_bytes = static_cast<int64_t>(static_cast<double>(t.v_bytes) * in.v_fetch_scale + 0.5);
  t.score_spill = score.excess(in.score_buffer_bytes);
  t.output_spill = output.excess(t.q_bytes);
  t.load_bytes = t.q_bytes + t.k_bytes + t.v_bytes;
  t.store_bytes = t.q_bytes + 2 * (t.score_spill + t.output_spill);
  t.dense_bytes = 2 * in.rows * row_bytes + 2 * kv_dense;
  return t;
}

}  // namespace attnsim
