#include "kernels/softmax.h"

#include <cmath>
#include <regex>
#include <stdexcept>

namespace attnsim {

ExpUnit ExpUnit::parse(const std::string& text) {
  ExpUnit e;
  if (text == "exact") return e;
  std::smatch m;
  if (std::regex_match(text, m, std::regex("pwl([0-9]+)"))) {
    e.bits_ = std::stoi(m[1]);
    if (e.bits_ < 1 || e.bits_ > 12) throw std::invalid_argument("pwl table bits must be 1 to 12");
    for (int s = 0; s <= (1 << e.bits_); ++s) e.table_.push_back(std::exp2(static_cast<double>(s) / (1 << e.bits_)));
    return e;
  }
  throw std::invalid_argument("expected \"exact\" or \"pwlN\" (e.g. \"pwl6\")");
}

std::string ExpUnit::name() const { return bits_ ? "pwl" + std::to_string(bits_) : "exact"; }

double ExpUnit::operator()(double x) const {
  if (!bits_) return std::exp(x);
  const double y = x + x / 2 - x / 16;  // x * log2(e) by shifts
  const double i = std::floor(y), f = y - i;
  const int segments = 1 << bits_;
  const int s = std::min(segments - 1, static_cast<int>(f * segments));
  const double x0 = static_cast<double>(s) / segments;
  const double y0 = table_[s], y1 = table_[s + 1];
  return std::ldexp(y0 + (y1 - y0) * (f - x0) * segments, static_cast<int>(i));
}

namespace {
template <class QueryOf>
MatF softmax_rows_of(const MatF& scores, bool causal, QueryOf query_of) {
  MatF p = MatF::Zero(scores.rows(), scores.cols());
  for (Eigen::Index i = 0; i < scores.rows(); ++i) {
    const Eigen::Index n = causal ? std::min<Eigen::Index>(scores.cols(), query_of(i) + 1) : scores.cols();
    if (n <= 0) continue;
    const float m = scores.row(i).head(n).maxCoeff();
    float z = 0;
    for (Eigen::Index j = 0; j < n; ++j) z += (p(i, j) = std::exp(scores(i, j) - m));
    p.row(i).head(n) /= z;
  }
  return p;
}
}  // namespace

MatF softmax_rows(const MatF& scores, bool causal, int row0) {
  return softmax_rows_of(scores, causal, [row0](Eigen::Index i) { return row0 + i; });
}

MatF softmax_rows(const MatF& scores, bool causal, const std::vector<int>& rows) {
  return softmax_rows_of(scores, causal, [&rows](Eigen::Index i) { return static_cast<Eigen::Index>(rows[i]); });
}

}  // namespace attnsim
