#ifndef BANDITD_SERVER_SERVICE_OPENAPI_DOC_H_
#define BANDITD_SERVER_SERVICE_OPENAPI_DOC_H_

namespace banditd::service {

// docs/openapi.json (generated from the proto by scripts/gen_clients.sh),
// compiled in; the HTTP gateway serves it at /openapi.json.
extern const char kOpenApiJson[];

}  // namespace banditd::service

#endif  // BANDITD_SERVER_SERVICE_OPENAPI_DOC_H_
