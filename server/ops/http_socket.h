#ifndef BANDITD_SERVER_OPS_HTTP_SOCKET_H_
#define BANDITD_SERVER_OPS_HTTP_SOCKET_H_

#include <sys/socket.h>

namespace banditd::ops {

// Socket options for cpp-httplib listeners (Server::set_socket_options).
// httplib's default sets SO_REUSEPORT, which lets a second process bind a
// port that is in use and take half its connections. SO_REUSEADDR alone lets
// a restart rebind while old connections linger in TIME_WAIT, but no second
// listener.
inline void ExclusivePortSocketOptions(int sock) {
  int yes = 1;
  setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
}

}  // namespace banditd::ops

#endif  // BANDITD_SERVER_OPS_HTTP_SOCKET_H_
