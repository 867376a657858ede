#ifndef BANDITD_SERVER_OPS_DASHBOARD_ASSETS_H_
#define BANDITD_SERVER_OPS_DASHBOARD_ASSETS_H_

namespace banditd::ops {

// The dashboard's files (server/ops/dashboard/), compiled in by CMake so the
// binary serves them with no files or network at run time.
extern const char kDashboardHtml[];
extern const char kDashboardJs[];
extern const char kDashboardCss[];
extern const char kDashboardFaviconSvg[];

}  // namespace banditd::ops

#endif  // BANDITD_SERVER_OPS_DASHBOARD_ASSETS_H_
