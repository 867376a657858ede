#include "server/core/linucb.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace banditd::core {

LinUcbArm::LinUcbArm(int dimension, double lambda)
    : dimension_(dimension),
      a_inverse_(static_cast<size_t>(dimension) * dimension, 0.0),
      b_(dimension, 0.0),
      theta_(dimension, 0.0) {
  for (int i = 0; i < dimension; ++i)
    a_inverse_[i * dimension + i] = 1.0 / lambda;
}

void LinUcbArm::AddImpression(absl::Span<const double> x, double weight) {
  if (!(weight > 0)) return;
  const int d = dimension_;
  // Sherman-Morrison with u = sqrt(weight) x:
  //   (A + u u^T)^-1 = A^-1 - (A^-1 u)(u^T A^-1) / (1 + u^T A^-1 u).
  // A^-1 is symmetric, so A^-1 u serves as both factors.
  std::vector<double> a_inv_x(d, 0.0);
  for (int i = 0; i < d; ++i) {
    double sum = 0;
    for (int j = 0; j < d; ++j) sum += a_inverse_[i * d + j] * x[j];
    a_inv_x[i] = sum;
  }
  double x_a_inv_x = 0;
  for (int i = 0; i < d; ++i) x_a_inv_x += x[i] * a_inv_x[i];
  const double scale = weight / (1.0 + weight * x_a_inv_x);
  for (int i = 0; i < d; ++i) {
    for (int j = 0; j < d; ++j) {
      a_inverse_[i * d + j] -= scale * a_inv_x[i] * a_inv_x[j];
    }
  }
  RecomputeTheta();
}

void LinUcbArm::AddReward(absl::Span<const double> x, double reward) {
  if (reward == 0) return;
  for (int i = 0; i < dimension_; ++i) b_[i] += reward * x[i];
  RecomputeTheta();
}

void LinUcbArm::RecomputeTheta() {
  const int d = dimension_;
  for (int i = 0; i < d; ++i) {
    double sum = 0;
    for (int j = 0; j < d; ++j) sum += a_inverse_[i * d + j] * b_[j];
    theta_[i] = sum;
  }
}

double LinUcbArm::Expected(absl::Span<const double> x) const {
  double sum = 0;
  for (int i = 0; i < dimension_; ++i) sum += x[i] * theta_[i];
  return sum;
}

double LinUcbArm::Variance(absl::Span<const double> x) const {
  const int d = dimension_;
  double variance = 0;
  for (int i = 0; i < d; ++i) {
    double row = 0;
    for (int j = 0; j < d; ++j) row += a_inverse_[i * d + j] * x[j];
    variance += x[i] * row;
  }
  return std::max(variance, 0.0);
}

double LinUcbArm::Score(absl::Span<const double> x, double alpha) const {
  return Expected(x) + alpha * std::sqrt(Variance(x));
}

void LinUcbArm::Rescale(double scale) {
  for (double& v : a_inverse_) v /= scale;
  for (double& v : b_) v *= scale;
  RecomputeTheta();
}

void LinUcbArm::Restore(std::vector<double> a_inverse, std::vector<double> b) {
  a_inverse_ = std::move(a_inverse);
  b_ = std::move(b);
  RecomputeTheta();
}

}  // namespace banditd::core
