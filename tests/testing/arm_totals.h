#ifndef BANDITD_TESTS_TESTING_ARM_TOTALS_H_
#define BANDITD_TESTS_TESTING_ARM_TOTALS_H_

// Per-arm view and click totals that the end-to-end tests (crash, cluster)
// add up from acknowledged Feedback and compare with what a server reports.

#include <cstdint>
#include <ostream>
#include <string>

#include "absl/strings/str_cat.h"

namespace banditd::testing {

template <int kArms>
struct ArmTotals {
  int64_t views[kArms] = {};
  int64_t clicks[kArms] = {};

  void Add(const ArmTotals& o) {
    for (int i = 0; i < kArms; ++i) {
      views[i] += o.views[i];
      clicks[i] += o.clicks[i];
    }
  }
  friend bool operator==(const ArmTotals&, const ArmTotals&) = default;
};

// " a0=views/clicks a1=..." for failure messages.
template <int kArms>
std::string Describe(const ArmTotals<kArms>& t) {
  std::string out;
  for (int i = 0; i < kArms; ++i) {
    absl::StrAppend(&out, " a", i, "=", t.views[i], "/", t.clicks[i]);
  }
  return out;
}

template <int kArms>
void PrintTo(const ArmTotals<kArms>& t, std::ostream* out) {
  *out << Describe(t);
}

}  // namespace banditd::testing

#endif  // BANDITD_TESTS_TESTING_ARM_TOTALS_H_
