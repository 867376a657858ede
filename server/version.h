#ifndef BANDITD_SERVER_VERSION_H_
#define BANDITD_SERVER_VERSION_H_

namespace banditd {

// The project version (CMake's project(VERSION)) and the git commit the
// binary was built from ("-dirty" with uncommitted changes; "unknown"
// outside a git checkout). Written at build time by cmake/version.cmake.
extern const char kVersion[];
extern const char kGitCommit[];

}  // namespace banditd

#endif  // BANDITD_SERVER_VERSION_H_
