/*
 * A Node-API addon that is not pkcs11js, for raa_native's type check: wrap(modulePath) gives an object wrapping 16
 * bytes laid out as pkcs11js's PKCS11 is (the module's dlopen handle, then a function list), whose
 * C_GetAttributeValue answers 0x7777 and counts its calls (called()). Read through, it would be called.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <node_api.h>

typedef unsigned long ck_ulong;
typedef struct {
  unsigned char version[2];
  void *before[24];
  ck_ulong (*get_attribute_value)(ck_ulong, ck_ulong, void *, ck_ulong);
} fake_list;
typedef struct {
  void *handle;
  fake_list *list;
} fake_pkcs11;

static fake_list list;
static unsigned calls;

static ck_ulong fake_get(ck_ulong session, ck_ulong object, void *template, ck_ulong count) {
  (void)session, (void)object, (void)template, (void)count;
  calls++;
  return 0x7777;
}

static void release(napi_env env, void *data, void *hint) {
  (void)env, (void)hint;
  free(data);
}

static napi_value wrap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], object;
  char path[4096];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], path, sizeof path, NULL) != napi_ok) return NULL;
  fake_pkcs11 *wrapped = malloc(sizeof *wrapped);
  wrapped->handle = dlopen(path, RTLD_LAZY | RTLD_NOLOAD);
  if (wrapped->handle != NULL) dlclose(wrapped->handle); /* the handle's value only: the module stays loaded */
  list.get_attribute_value = fake_get;
  wrapped->list = &list;
  napi_create_object(env, &object);
  napi_wrap(env, object, wrapped, release, NULL, NULL);
  return object;
}

static napi_value called(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  napi_create_uint32(env, calls, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor properties[] = {
      {"wrap", NULL, wrap, NULL, NULL, NULL, napi_enumerable, NULL},
      {"called", NULL, called, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, 2, properties);
  return exports;
}
