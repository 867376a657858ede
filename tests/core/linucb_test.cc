#include "server/core/linucb.h"

#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace banditd::core {
namespace {

// Inverts a small dense matrix by Gauss-Jordan elimination with partial
// pivoting: the O(d^3) reference the incremental update must agree with.
std::vector<double> Invert(std::vector<double> a, int d) {
  std::vector<double> inv(d * d, 0.0);
  for (int i = 0; i < d; ++i) inv[i * d + i] = 1;
  for (int col = 0; col < d; ++col) {
    int pivot = col;
    for (int r = col + 1; r < d; ++r) {
      if (std::abs(a[r * d + col]) > std::abs(a[pivot * d + col])) pivot = r;
    }
    for (int j = 0; j < d; ++j) {
      std::swap(a[col * d + j], a[pivot * d + j]);
      std::swap(inv[col * d + j], inv[pivot * d + j]);
    }
    const double p = a[col * d + col];
    for (int j = 0; j < d; ++j) {
      a[col * d + j] /= p;
      inv[col * d + j] /= p;
    }
    for (int r = 0; r < d; ++r) {
      if (r == col) continue;
      const double f = a[r * d + col];
      for (int j = 0; j < d; ++j) {
        a[r * d + j] -= f * a[col * d + j];
        inv[r * d + j] -= f * inv[col * d + j];
      }
    }
  }
  return inv;
}

TEST(LinUcbArmTest, FreshModelIsRidgePrior) {
  LinUcbArm model(2, 4.0);
  EXPECT_EQ(model.a_inverse(), (std::vector<double>{0.25, 0, 0, 0.25}));
  // x = (1, 2): theta = 0, bonus = sqrt(x^T x / 4) = sqrt(5) / 2.
  EXPECT_DOUBLE_EQ(model.Score(std::vector<double>{1, 2}, 2.0), std::sqrt(5.0));
}

TEST(LinUcbArmTest, ShermanMorrisonMatchesDirectInverse) {
  constexpr int d = 4;
  const double lambda = 0.5;
  LinUcbArm model(d, lambda);
  std::vector<double> a(d * d, 0.0), b(d, 0.0);
  for (int i = 0; i < d; ++i) a[i * d + i] = lambda;
  std::mt19937_64 gen(3);
  std::normal_distribution<double> normal;
  for (int step = 0; step < 50; ++step) {
    std::vector<double> x(d);
    for (double& v : x) v = normal(gen);
    const double weight = 1 + step % 3;
    const double reward = normal(gen);
    model.AddImpression(x, weight);
    model.AddReward(x, reward);
    for (int i = 0; i < d; ++i) {
      b[i] += reward * x[i];
      for (int j = 0; j < d; ++j) a[i * d + j] += weight * x[i] * x[j];
    }
  }
  const std::vector<double> expected = Invert(a, d);
  for (int i = 0; i < d * d; ++i) {
    EXPECT_NEAR(model.a_inverse()[i], expected[i], 1e-9) << i;
  }
  for (int i = 0; i < d; ++i) {
    double theta = 0;
    for (int j = 0; j < d; ++j) theta += expected[i * d + j] * b[j];
    EXPECT_NEAR(model.theta()[i], theta, 1e-9);
  }
}

TEST(LinUcbArmTest, LearnsALinearReward) {
  // r = 2 x0 - x1 + 0.5 x2, noiseless: theta converges to (2, -1, 0.5).
  LinUcbArm model(3, 1.0);
  std::mt19937_64 gen(11);
  std::uniform_real_distribution<double> uniform(-1, 1);
  for (int step = 0; step < 2000; ++step) {
    std::vector<double> x = {uniform(gen), uniform(gen), uniform(gen)};
    model.AddImpression(x, 1);
    model.AddReward(x, 2 * x[0] - x[1] + 0.5 * x[2]);
  }
  EXPECT_NEAR(model.theta()[0], 2.0, 0.01);
  EXPECT_NEAR(model.theta()[1], -1.0, 0.01);
  EXPECT_NEAR(model.theta()[2], 0.5, 0.01);
  // The exploration bonus shrinks with data.
  const std::vector<double> x = {1, 0, 0};
  EXPECT_LT(model.Score(x, 1.0) - model.Expected(x), 0.05);
}

}  // namespace
}  // namespace banditd::core
