/*
 * raa_native: what roles-anywhere-agent needs from the OS that Node.js has no API for.
 *
 *   disableCoreDumps()   prctl(PR_SET_DUMPABLE, 0) and RLIMIT_CORE 0, as ssh-agent does: no core file, and no
 *                        other process of the same user can read /proc/PID/mem, environ or attach a debugger.
 *                        Returns whether the process is now non-dumpable (false where the OS has no such flag).
 *   isDumpable()         prctl(PR_GET_DUMPABLE): 1 dumpable, 0 not; -1 where the OS has no such flag.
 *   peerCredentials(fd)  the uid, gid (and pid on Linux) of the process at the other end of a connected UNIX
 *                        socket: SO_PEERCRED on Linux, getpeereid() on the BSDs and macOS.
 *   notify(path, text)   sends `text` as one datagram to the UNIX datagram socket `path` (`@name`: the abstract
 *                        namespace): systemd's sd_notify protocol ($NOTIFY_SOCKET, READY=1). Node.js has UDP
 *                        datagrams only.
 *   accessAcl(fd)        the POSIX access ACL of an open file (xattr system.posix_acl_access, its bytes as the kernel
 *                        gives them), or null when it has none or its file system has no ACLs. Linux only.
 *   setAccessAcl(fd, acl)  sets that ACL on an open file; null removes it (none there: no error). Linux only.
 *   pkcs11Attributes(lib, PKCS11, modulePath, session, object, types, bounds)
 *                        C_GetAttributeValue through the function list of `lib`, the pkcs11js PKCS11 (made by the
 *                        class `PKCS11`) that loaded `modulePath`: first the lengths, then only the values within
 *                        their bound (-1: none), into buffers this call frees. pkcs11js 2.1.7 has no such read: its
 *                        bounded one loses the buffer the value fits in. Returns the module's CK_RV (a number) when a
 *                        call fails, else per type a Buffer, null (CK_UNAVAILABLE_INFORMATION) or false (longer than
 *                        its bound: not read). Throws an Error with code RAA_NOT_DIRECT when the module is not loaded
 *                        in this process, or `lib` is not the pkcs11js that loaded it; ENOMEM when a length the
 *                        module gives cannot be allocated; a TypeError for malformed arguments. Reads only
 *                        through an object tagPkcs11 tagged.
 *   tagPkcs11(lib, PKCS11)  marks `lib`, a pkcs11js PKCS11 the agent's loader has just made with the class `PKCS11`,
 *                        with this addon's type tag (napi_type_tag_object): the one kind of object pkcs11Attributes
 *                        reads through. Throws RAA_NOT_DIRECT for an object tagged already, or not such an instance.
 *   pkcs11Login(lib, PKCS11, modulePath, session, userType, pin)
 *                        C_Login through that same function list, checked the same way, with the PIN's bytes where
 *                        the Buffer `pin` holds them (no copy, so the caller's wipe is the only one needed); returns
 *                        the CK_RV as a number. Throws as pkcs11Attributes does, before C_Login is called.
 *   pkcs11TokenInfo(lib, PKCS11, modulePath, slot)
 *                        C_GetTokenInfo through that same function list, checked the same way: the token's label,
 *                        manufacturerID, model and serialNumber as Buffers of the bytes the module wrote, blank padding
 *                        and all (32, 32, 16, 16 bytes), or the CK_RV as a number. pkcs11js decodes them as UTF-8, a
 *                        byte that is not becoming U+FFFD. Throws as pkcs11Attributes does, before C_GetTokenInfo.
 *
 * A failed system call throws an Error whose message names the call and strerror(errno).
 * Plain C, Node-API version 8: one build serves Node 20, 22 and 24.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <stddef.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/xattr.h>
#endif
#include <node_api.h>
#include <dlfcn.h>
#if defined(__linux__) && defined(__GLIBC__)
/* glibc 2.34 moved these into libc under a new version: the old one keeps the prebuilt helper loading on older systems. */
#if defined(__x86_64__)
#define OLD_DL "GLIBC_2.2.5"
#elif defined(__aarch64__)
#define OLD_DL "GLIBC_2.17"
#endif
#ifdef OLD_DL
__asm__(".symver dlopen,dlopen@" OLD_DL);
__asm__(".symver dlsym,dlsym@" OLD_DL);
__asm__(".symver dlclose,dlclose@" OLD_DL);
#endif
#endif
#include <stdint.h>
#include <stdlib.h>

#ifndef SOCK_CLOEXEC
#define SOCK_CLOEXEC 0
#endif
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, NULL, "raa_native: Node-API call failed"); \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char message[256];
  snprintf(message, sizeof message, "%s: %s", what, strerror(err));
  napi_throw_error(env, NULL, message);
  return NULL;
}

static napi_value disable_core_dumps(napi_env env, napi_callback_info info) {
  (void)info;
  struct rlimit none = {0, 0};
  if (setrlimit(RLIMIT_CORE, &none) != 0) return throw_errno(env, "setrlimit(RLIMIT_CORE, 0)", errno);
  bool non_dumpable = false;
#ifdef __linux__
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return throw_errno(env, "prctl(PR_SET_DUMPABLE, 0)", errno);
  non_dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0;
#endif
  napi_value result;
  CHECK(napi_get_boolean(env, non_dumpable, &result));
  return result;
}

static napi_value is_dumpable(napi_env env, napi_callback_info info) {
  (void)info;
  int state = -1;
#ifdef __linux__
  state = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
  if (state < 0) return throw_errno(env, "prctl(PR_GET_DUMPABLE)", errno);
#endif
  napi_value result;
  CHECK(napi_create_int32(env, state, &result));
  return result;
}

static napi_value peer_credentials(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd = -1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "peerCredentials(fd): fd must be a non-negative integer");
    return NULL;
  }
  long long uid, gid, pid = -1;
#ifdef SO_PEERCRED
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return throw_errno(env, "getsockopt(SO_PEERCRED)", errno);
  if (len != sizeof cred) return throw_errno(env, "getsockopt(SO_PEERCRED)", EINVAL);
  uid = cred.uid;
  gid = cred.gid;
  pid = cred.pid;
#else
  uid_t euid;
  gid_t egid;
  if (getpeereid(fd, &euid, &egid) != 0) return throw_errno(env, "getpeereid", errno);
  uid = euid;
  gid = egid;
#endif
  napi_value result, value;
  CHECK(napi_create_object(env, &result));
  CHECK(napi_create_int64(env, uid, &value));
  CHECK(napi_set_named_property(env, result, "uid", value));
  CHECK(napi_create_int64(env, gid, &value));
  CHECK(napi_set_named_property(env, result, "gid", value));
  CHECK(napi_create_int64(env, pid, &value));
  CHECK(napi_set_named_property(env, result, "pid", value));
  return result;
}

static bool get_string(napi_env env, napi_value value, char *buffer, size_t size, size_t *length) {
  return napi_get_value_string_utf8(env, value, buffer, size, length) == napi_ok && *length < size - 1;
}

static napi_value notify(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct sockaddr_un address;
  memset(&address, 0, sizeof address);
  address.sun_family = AF_UNIX;
  char path[sizeof address.sun_path + 1];
  char text[4096];
  size_t path_length = 0, text_length = 0;
  if (argc < 2 || !get_string(env, argv[0], path, sizeof path, &path_length) || path_length < 2 ||
      (path[0] != '/' && path[0] != '@') || !get_string(env, argv[1], text, sizeof text, &text_length)) {
    napi_throw_type_error(env, NULL, "notify(path, text): path must be an absolute path or @name shorter than sun_path, text shorter than 4 KiB");
    return NULL;
  }
  memcpy(address.sun_path, path, path_length);
  if (path[0] == '@') address.sun_path[0] = '\0';  /* abstract namespace: not NUL-terminated */
  socklen_t address_length = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + path_length + (path[0] == '@' ? 0 : 1));
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket(AF_UNIX, SOCK_DGRAM)", errno);
  ssize_t sent = sendto(fd, text, text_length, MSG_NOSIGNAL, (struct sockaddr *)&address, address_length);
  int err = errno;
  close(fd);
  if (sent < 0) return throw_errno(env, "sendto(NOTIFY_SOCKET)", err);
  if ((size_t)sent != text_length) return throw_errno(env, "sendto(NOTIFY_SOCKET)", EMSGSIZE);
  return NULL;
}

#ifdef __linux__
#define ACCESS_ACL "system.posix_acl_access"

static bool get_fd(napi_env env, napi_value value, int32_t *fd) {
  if (napi_get_value_int32(env, value, fd) == napi_ok && *fd >= 0) return true;
  napi_throw_type_error(env, NULL, "fd must be a non-negative integer");
  return false;
}

static napi_value access_acl(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  if (argc < 1 || !get_fd(env, argv[0], &fd)) return NULL;
  char acl[65536]; /* XATTR_SIZE_MAX */
  ssize_t size = fgetxattr(fd, ACCESS_ACL, acl, sizeof acl);
  if (size < 0 && (errno == ENODATA || errno == ENOTSUP)) {
    CHECK(napi_get_null(env, &result));
    return result;
  }
  if (size < 0) return throw_errno(env, "fgetxattr(" ACCESS_ACL ")", errno);
  CHECK(napi_create_buffer_copy(env, (size_t)size, acl, NULL, &result));
  return result;
}

static napi_value set_access_acl(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  if (argc < 2 || !get_fd(env, argv[0], &fd)) return NULL;
  napi_valuetype type;
  CHECK(napi_typeof(env, argv[1], &type));
  if (type == napi_null) {
    if (fremovexattr(fd, ACCESS_ACL) != 0 && errno != ENODATA && errno != ENOTSUP) return throw_errno(env, "fremovexattr(" ACCESS_ACL ")", errno);
    return NULL;
  }
  void *acl;
  size_t size;
  if (napi_get_buffer_info(env, argv[1], &acl, &size) != napi_ok) {
    napi_throw_type_error(env, NULL, "setAccessAcl(fd, acl): acl must be a Buffer or null");
    return NULL;
  }
  if (fsetxattr(fd, ACCESS_ACL, acl, size, 0) != 0) return throw_errno(env, "fsetxattr(" ACCESS_ACL ")", errno);
  return NULL;
}
#endif

/* PKCS#11 v2.40's types, as its header declares them on Unix (default packing). */
typedef unsigned long ck_ulong;
typedef struct {
  ck_ulong type;
  void *value;
  ck_ulong length;
} ck_attribute;
typedef ck_ulong (*ck_get_attribute_value)(ck_ulong session, ck_ulong object, ck_attribute *template, ck_ulong count);
typedef ck_ulong (*ck_login)(ck_ulong session, ck_ulong user_type, unsigned char *pin, ck_ulong pin_length);
typedef struct {
  unsigned char label[32], manufacturer_id[32], model[16], serial_number[16];
  ck_ulong flags, max_session_count, session_count, max_rw_session_count, rw_session_count, max_pin_len, min_pin_len,
      total_public_memory, free_public_memory, total_private_memory, free_private_memory;
  unsigned char hardware_version[2], firmware_version[2], utc_time[16];
} ck_token_info;
typedef ck_ulong (*ck_get_token_info)(ck_ulong slot, ck_token_info *info);
typedef struct {
  unsigned char version[2];
  void *before_token_info[6]; /* C_Initialize … C_GetSlotInfo */
  ck_get_token_info get_token_info;
  void *before_login[11]; /* C_GetMechanismList … C_SetOperationState */
  ck_login login;
  void *before_attributes[5]; /* C_Logout … C_GetObjectSize */
  ck_get_attribute_value get_attribute_value;
} ck_function_list;
/* Entry n of CK_FUNCTION_LIST (counted from C_Initialize, 0) lies n + 1 pointers in, after the padded version. */
#define LIST_ENTRY(n) (sizeof(void *) * ((n) + 1))
_Static_assert(offsetof(ck_function_list, get_token_info) == LIST_ENTRY(6), "C_GetTokenInfo is entry 6");
_Static_assert(offsetof(ck_function_list, login) == LIST_ENTRY(18), "C_Login is entry 18");
_Static_assert(offsetof(ck_function_list, get_attribute_value) == LIST_ENTRY(24), "C_GetAttributeValue is entry 24");
_Static_assert(offsetof(ck_token_info, utc_time) == 96 + 11 * sizeof(ck_ulong) + 4, "CK_TOKEN_INFO's layout");
#define CKR_OK 0UL
#define CK_UNAVAILABLE_INFORMATION (~0UL)
#define MAX_TYPES 16

/* `code`: the Error's `code` property. RAA_NOT_DIRECT: lib or the module is not one this function may read through. */
static napi_value throw_coded(napi_env env, const char *code, const char *message) {
  napi_throw_error(env, code, message);
  return NULL;
}
#define NOT_DIRECT "RAA_NOT_DIRECT"

static bool get_handle(napi_env env, napi_value value, ck_ulong *handle) {
  void *data;
  size_t size;
  if (napi_get_buffer_info(env, value, &data, &size) == napi_ok && size == sizeof(ck_ulong)) {
    memcpy(handle, data, sizeof(ck_ulong));
    return true;
  }
  napi_throw_type_error(env, NULL, "a PKCS#11 handle must be a Buffer of sizeof(CK_ULONG) bytes");
  return false;
}

/* A whole number from min to max, exactly: not napi_get_value_int64, which gives NaN and Infinity as 0 (CKU_SO for a
 * user type, a bound of 0 for an attribute) and 1.5 as 1. */
static bool get_whole(napi_env env, napi_value value, double min, double max, double *out) {
  return napi_get_value_double(env, value, out) == napi_ok && *out >= min && *out <= max && *out == (double)(int64_t)*out;
}

static napi_value rv_value(napi_env env, ck_ulong rv) {
  napi_value result;
  CHECK(napi_create_double(env, (double)rv, &result));
  return result;
}

/*
 * The two C_GetAttributeValue calls, on a module already loaded. Of what the module writes into a template only the
 * lengths are taken: each call gets a template of its own, so a pointer or type it writes back is never used, nor
 * freed. `buffers` (count of them, NULL each) are freed by the caller, on every path.
 */
static napi_value read_attributes(napi_env env, ck_get_attribute_value get, ck_ulong session, ck_ulong object,
                                  const ck_ulong *types, const int64_t *bounds, uint32_t count, void **buffers) {
  ck_attribute asked[MAX_TYPES];
  for (uint32_t i = 0; i < count; i++) asked[i] = (ck_attribute){types[i], NULL, 0};
  ck_ulong rv = get(session, object, asked, count);
  if (rv != CKR_OK) return rv_value(env, rv);
  ck_ulong lengths[MAX_TYPES];
  ck_attribute wanted[MAX_TYPES];
  uint32_t slot[MAX_TYPES]; /* wanted[slot[i]] reads types[i], when buffers[i] */
  uint32_t read = 0;
  for (uint32_t i = 0; i < count; i++) {
    ck_ulong length = lengths[i] = asked[i].length;
    if (length == CK_UNAVAILABLE_INFORMATION || length == 0) continue;
    if (bounds[i] >= 0 && length > (ck_ulong)bounds[i]) continue;
    buffers[i] = malloc(length);
    if (buffers[i] == NULL) {
      char message[160];
      snprintf(message, sizeof message, "pkcs11Attributes: no memory for the %lu bytes the module gives as the length of attribute 0x%lx", length, types[i]);
      return throw_coded(env, "ENOMEM", message);
    }
    slot[i] = read;
    wanted[read++] = (ck_attribute){types[i], buffers[i], length};
  }
  if (read > 0) {
    rv = get(session, object, wanted, read);
    if (rv != CKR_OK) return rv_value(env, rv); /* CKR_BUFFER_TOO_SMALL: the object changed meanwhile */
  }
  napi_value result;
  CHECK(napi_create_array_with_length(env, count, &result));
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    ck_ulong got = buffers[i] == NULL ? lengths[i] : wanted[slot[i]].length;
    if (got == CK_UNAVAILABLE_INFORMATION) {
      CHECK(napi_get_null(env, &element));
    } else if (buffers[i] == NULL && got > 0) {
      CHECK(napi_get_boolean(env, false, &element)); /* longer than its bound: not read */
    } else {
      if (got > lengths[i]) got = lengths[i]; /* a module may not claim more than it was given room for */
      CHECK(napi_create_buffer_copy(env, got, got == 0 ? "" : buffers[i], NULL, &element));
    }
    CHECK(napi_set_element(env, result, i, element));
  }
  return result;
}

/* The module `path` names, only if this process has it loaded already (a name pkcs11js gave dlopen); else throws. */
static void *loaded_module(napi_env env, const char *caller, napi_value value) {
  char path[4096];
  size_t length;
  if (napi_get_value_string_utf8(env, value, path, sizeof path, &length) != napi_ok || length + 1 >= sizeof path) {
    napi_throw_type_error(env, NULL, "the PKCS#11 module's path must be a string shorter than 4096 bytes");
    return NULL;
  }
  void *module = dlopen(path, RTLD_LAZY | RTLD_NOLOAD);
  if (module == NULL) {
    char message[96];
    snprintf(message, sizeof message, "%s: the PKCS#11 module is not loaded in this process", caller);
    throw_coded(env, NOT_DIRECT, message);
  }
  return module;
}

/*
 * What pkcs11js 2.1.7 wraps in a PKCS11 (napi_wrap): its dlopen handle, then the function list it initialised. That
 * list, not a new C_GetFunctionList: p11-kit-proxy answers each call with a new, uninitialised instance.
 */
typedef struct {
  void *handle;
  ck_function_list *list;
} pkcs11js_module;

/*
 * Node-API cannot tell which addon wrapped an object, and pkcs11js tags none: an object another addon wrapped, its
 * prototype set to PKCS11's, passes napi_instanceof, and its memory would be read as pkcs11js's. So the agent's loader
 * tags each PKCS11 right after `new PKCS11()` (tagPkcs11), and only a tagged object is unwrapped. Fixed, random.
 */
static const napi_type_tag PKCS11_TAG = {0x8b3f5c2a91d74e06ULL, 0xa4e1c97d3b2f6810ULL};

/* Whether `lib` is an object and an instance of `pkcs11`, the class, with a native object wrapped in it; false after a throw. */
static bool pkcs11_instance(napi_env env, const char *caller, napi_value lib, napi_value pkcs11, bool *instance) {
  napi_valuetype type;
  *instance = false;
  if (napi_typeof(env, pkcs11, &type) != napi_ok || type != napi_function) {
    char message[80];
    snprintf(message, sizeof message, "%s: PKCS11 must be the class that made lib", caller);
    napi_throw_type_error(env, NULL, message);
    return false;
  }
  if (napi_typeof(env, lib, &type) != napi_ok || type != napi_object) return true;
  return napi_instanceof(env, lib, pkcs11, instance) == napi_ok; /* its Symbol.hasInstance threw */
}

/*
 * The function list of `lib`, only when it is an instance of `pkcs11` (the class that made it) that tagPkcs11 tagged,
 * with a native object wrapped in it, that object's handle is the loaded `path`, and the list has a function at
 * `entry` (its offset); else throws. The tag is checked before anything is unwrapped: an object another addon wrapped
 * is never read as pkcs11js's.
 */
static ck_function_list *pkcs11js_function_list(napi_env env, const char *caller, size_t entry, napi_value lib, napi_value pkcs11, napi_value path) {
  bool instance, tagged = false;
  void *wrapped = NULL;
  char message[96];
  if (!pkcs11_instance(env, caller, lib, pkcs11, &instance)) return NULL;
  if (!instance || napi_check_object_type_tag(env, lib, &PKCS11_TAG, &tagged) != napi_ok || !tagged ||
      napi_unwrap(env, lib, &wrapped) != napi_ok || wrapped == NULL) {
    snprintf(message, sizeof message, "%s: lib must be a pkcs11js PKCS11", caller);
    throw_coded(env, NOT_DIRECT, message);
    return NULL;
  }
  void *module = loaded_module(env, caller, path);
  if (module == NULL) return NULL;
  pkcs11js_module *held = wrapped;
  bool same = held->handle == module;
  dlclose(module);
  if (!same || held->list == NULL || *(void **)((char *)held->list + entry) == NULL) {
    snprintf(message, sizeof message, "%s: lib is not the pkcs11js that loaded this module", caller);
    throw_coded(env, NOT_DIRECT, message);
    return NULL;
  }
  return held->list;
}

static napi_value pkcs11_attributes(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint32_t count = 0, bounds_count = 0;
  if (argc < 7 || napi_get_array_length(env, argv[5], &count) != napi_ok ||
      napi_get_array_length(env, argv[6], &bounds_count) != napi_ok || count == 0 || count > MAX_TYPES ||
      bounds_count != count) {
    napi_throw_type_error(env, NULL, "pkcs11Attributes(lib, PKCS11, modulePath, session, object, types, bounds): 1 to 16 types, a bound each");
    return NULL;
  }
  ck_ulong session, object;
  if (!get_handle(env, argv[3], &session) || !get_handle(env, argv[4], &object)) return NULL;
  ck_ulong types[MAX_TYPES];
  int64_t bounds[MAX_TYPES];
  for (uint32_t i = 0; i < count; i++) {
    napi_value type, bound;
    double t, b;
    CHECK(napi_get_element(env, argv[5], i, &type));
    CHECK(napi_get_element(env, argv[6], i, &bound));
    if (!get_whole(env, type, 0, 0xffffffff, &t) || !get_whole(env, bound, -1, 9007199254740991.0, &b)) {
      napi_throw_type_error(env, NULL, "pkcs11Attributes: types must be whole numbers from 0 to 2^32-1, bounds from -1 (none) up");
      return NULL;
    }
    types[i] = (ck_ulong)t;
    bounds[i] = (int64_t)b;
  }
  ck_function_list *list = pkcs11js_function_list(env, "pkcs11Attributes", offsetof(ck_function_list, get_attribute_value), argv[0], argv[1], argv[2]);
  if (list == NULL) return NULL;
  void *buffers[MAX_TYPES] = {NULL};
  napi_value result = read_attributes(env, list->get_attribute_value, session, object, types, bounds, count, buffers);
  for (uint32_t i = 0; i < count; i++) free(buffers[i]);
  return result;
}

static napi_value tag_pkcs11(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2] = {NULL, NULL};
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, NULL, "tagPkcs11(lib, PKCS11)");
    return NULL;
  }
  bool instance;
  void *wrapped = NULL;
  if (!pkcs11_instance(env, "tagPkcs11", argv[0], argv[1], &instance)) return NULL;
  if (!instance || napi_unwrap(env, argv[0], &wrapped) != napi_ok || wrapped == NULL)
    return throw_coded(env, NOT_DIRECT, "tagPkcs11: lib must be a pkcs11js PKCS11");
  if (napi_type_tag_object(env, argv[0], &PKCS11_TAG) != napi_ok) /* napi_invalid_arg: it has a tag, ours or another's */
    return throw_coded(env, NOT_DIRECT, "tagPkcs11: lib is tagged already");
  return NULL;
}

/*
 * C_Login through the same function list, the PIN read where it lies: a pointer into the caller's Buffer, which the
 * caller wipes. pkcs11js's C_Login takes a string, which cannot be wiped, and copies it into memory it frees unwiped.
 */
static napi_value pkcs11_login(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  ck_ulong session;
  double user_type;
  void *pin = NULL;
  size_t pin_length = 0;
  if (argc < 6 || !get_whole(env, argv[4], 0, 0xffffffff, &user_type) ||
      napi_get_buffer_info(env, argv[5], &pin, &pin_length) != napi_ok || pin_length == 0) {
    napi_throw_type_error(env, NULL, "pkcs11Login(lib, PKCS11, modulePath, session, userType, pin): userType a whole number, pin a Buffer of at least one byte");
    return NULL;
  }
  if (!get_handle(env, argv[3], &session)) return NULL;
  ck_function_list *list = pkcs11js_function_list(env, "pkcs11Login", offsetof(ck_function_list, login), argv[0], argv[1], argv[2]);
  if (list == NULL) return NULL;
  return rv_value(env, list->login(session, (ck_ulong)user_type, pin, (ck_ulong)pin_length));
}

/* A fixed-size field of CK_TOKEN_INFO, as the module wrote it, as a property of `result`. */
static bool set_field(napi_env env, napi_value result, const char *name, const unsigned char *field, size_t size) {
  napi_value value;
  return napi_create_buffer_copy(env, size, field, NULL, &value) == napi_ok && napi_set_named_property(env, result, name, value) == napi_ok;
}

/*
 * C_GetTokenInfo through the same function list: the four text fields as bytes. The module writes into a structure
 * of this call's own, zeroed first; its pointers-free fields are copied out, nothing it writes is followed.
 */
static napi_value pkcs11_token_info(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  ck_ulong slot;
  if (argc < 4) {
    napi_throw_type_error(env, NULL, "pkcs11TokenInfo(lib, PKCS11, modulePath, slot)");
    return NULL;
  }
  if (!get_handle(env, argv[3], &slot)) return NULL;
  ck_function_list *list = pkcs11js_function_list(env, "pkcs11TokenInfo", offsetof(ck_function_list, get_token_info), argv[0], argv[1], argv[2]);
  if (list == NULL) return NULL;
  ck_token_info token;
  memset(&token, 0, sizeof token);
  ck_ulong rv = list->get_token_info(slot, &token);
  if (rv != CKR_OK) return rv_value(env, rv);
  napi_value result;
  CHECK(napi_create_object(env, &result));
  if (!set_field(env, result, "label", token.label, sizeof token.label) ||
      !set_field(env, result, "manufacturerID", token.manufacturer_id, sizeof token.manufacturer_id) ||
      !set_field(env, result, "model", token.model, sizeof token.model) ||
      !set_field(env, result, "serialNumber", token.serial_number, sizeof token.serial_number)) {
    napi_throw_error(env, NULL, "raa_native: Node-API call failed");
    return NULL;
  }
  return result;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor properties[] = {
      {"disableCoreDumps", NULL, disable_core_dumps, NULL, NULL, NULL, napi_enumerable, NULL},
      {"isDumpable", NULL, is_dumpable, NULL, NULL, NULL, napi_enumerable, NULL},
      {"peerCredentials", NULL, peer_credentials, NULL, NULL, NULL, napi_enumerable, NULL},
      {"notify", NULL, notify, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pkcs11Attributes", NULL, pkcs11_attributes, NULL, NULL, NULL, napi_enumerable, NULL},
      {"tagPkcs11", NULL, tag_pkcs11, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pkcs11Login", NULL, pkcs11_login, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pkcs11TokenInfo", NULL, pkcs11_token_info, NULL, NULL, NULL, napi_enumerable, NULL},
#ifdef __linux__
      {"accessAcl", NULL, access_acl, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setAccessAcl", NULL, set_access_acl, NULL, NULL, NULL, napi_enumerable, NULL},
#endif
  };
  if (napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties) != napi_ok) return NULL;
  return exports;
}
