/* napi-args: small helpers udp-mux.c uses to read its arguments and report errors. */
#ifndef PHONE_AGENT_NAPI_ARGS_H
#define PHONE_AGENT_NAPI_ARGS_H

#include <errno.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static napi_value throw_errno (napi_env env, const char *what, int err) {
  char message[160];
  snprintf(message, sizeof message, "udp-mux: %s: %s", what, strerror(err));
  const char *code = err == EADDRINUSE ? "EADDRINUSE" : err == EADDRNOTAVAIL ? "EADDRNOTAVAIL" : err == EACCES ? "EACCES" : "EUDPMUX";
  napi_throw_error(env, code, message);
  return NULL;
}

static int32_t *int32_data (napi_env env, napi_value value, size_t need) {
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_get_typedarray_info(env, value, &type, &length, &data, NULL, NULL) != napi_ok) return NULL;
  return type == napi_int32_array && length >= need ? data : NULL;
}

static void *buffer_data (napi_env env, napi_value value, size_t need) {
  void *data;
  size_t length;
  if (napi_get_arraybuffer_info(env, value, &data, &length) != napi_ok || length < need) return NULL;
  return data;
}

#endif
