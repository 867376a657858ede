#ifndef BANDITD_SERVER_CORE_LINUCB_H_
#define BANDITD_SERVER_CORE_LINUCB_H_

#include <vector>

#include "absl/types/span.h"

namespace banditd::core {

// LinUcbArm is one arm's disjoint LinUCB model:
//   A = lambda I + sum x x^T,  b = sum r x,  theta = A^-1 b.
// It keeps A^-1 directly and updates it with the Sherman-Morrison formula,
// O(d^2) per observation instead of an O(d^3) inversion.
class LinUcbArm {
 public:
  LinUcbArm() = default;
  LinUcbArm(int dimension, double lambda);

  int dimension() const { return dimension_; }

  // One impression with features x, `weight` times (A += weight x x^T).
  void AddImpression(absl::Span<const double> x, double weight);
  // Reward r observed for features x (b += r x).
  void AddReward(absl::Span<const double> x, double reward);

  // x^T theta + alpha * sqrt(x^T A^-1 x).
  double Score(absl::Span<const double> x, double alpha) const;
  // x^T theta, the expected reward.
  double Expected(absl::Span<const double> x) const;
  // x^T A^-1 x: the variance of x^T theta per unit of noise variance. LinTS
  // draws x^T theta~ with theta~ ~ Normal(theta, v^2 A^-1); for one x that
  // is exactly Normal(x^T theta, v^2 x^T A^-1 x), one scalar draw per arm.
  double Variance(absl::Span<const double> x) const;

  // Row-major A^-1, b and theta: for snapshots and tests.
  const std::vector<double>& a_inverse() const { return a_inverse_; }
  const std::vector<double>& b() const { return b_; }
  const std::vector<double>& theta() const { return theta_; }
  // Decay: a room's models are stored like its counters, divided by the
  // room's counter_scale s (true A = s A~, true b = s b~), so that forgetting
  // is O(1): the engine adds each impression and reward divided by s, theta
  // = A~^-1 b~ is unchanged by s, and x^T A^-1 x = x^T A~^-1 x / s. This
  // folds s into the stored values (A~^-1 / s, b~ s) when the room resets
  // its scale to 1.
  void Rescale(double scale);
  // Restores a snapshot; sizes must match the dimension.
  void Restore(std::vector<double> a_inverse, std::vector<double> b);

  friend bool operator==(const LinUcbArm&, const LinUcbArm&) = default;

 private:
  void RecomputeTheta();

  int dimension_ = 0;
  std::vector<double> a_inverse_;
  std::vector<double> b_;
  std::vector<double> theta_;
};

}  // namespace banditd::core

#endif  // BANDITD_SERVER_CORE_LINUCB_H_
