/*
 * p11kit-uri-oracle: what p11-kit's RFC 7512 parser makes of pkcs11: URIs, for scripts/fuzz-pkcs11-uri.mjs.
 * Not part of `npm test`; needs gcc and libp11-kit-dev. Build and run:
 *
 *   gcc -O1 -o /tmp/p11kit-uri-oracle scripts/p11kit-uri-oracle.c $(pkg-config --cflags --libs p11-kit-1)
 *   printf '%s\n' 'pkcs11:token=A;object=k?pin-value=1' | /tmp/p11kit-uri-oracle
 *   printf '%s\n' 706b637331313a69643d253031 | /tmp/p11kit-uri-oracle -x    # each line the URI's bytes in hex
 *
 * Each input line is one URI (with -x: its bytes in hex, so a URI may hold a newline; p11-kit takes a C string,
 * so it ends at a NUL byte). For each, one line of JSON on stdout, every string as lowercase hex of its bytes:
 *   {"rc":<p11_kit_uri_parse(…, P11_KIT_URI_FOR_ANY, …)>,"message":"<p11_kit_uri_message(rc)>",
 *    "unrecognized":<p11_kit_uri_any_unrecognized: an attribute it could not take; its match functions then fail>,
 *    "module":{"manufacturer":…,"description":… (the whole 32-byte fields, "" when the first byte is NUL: unset),
 *              "version":"M.m" | null},
 *    "token":{"label":…,"manufacturer":…,"model":… (32 bytes),"serial":… (16 bytes)},
 *    "slot":{"description":… (64),"manufacturer":… (32),"id":"<decimal>" | null},
 *    "attributes":[{"type":<CKA_*>,"value":…}, …] (CKA_CLASS's value is the CK_OBJECT_CLASS in decimal, not hex),
 *    "pinValue":…|null,"pinSource":…|null,"moduleName":…|null,"modulePath":…|null,
 *    "vendor":{"<name as hex>":"<value as hex>"|null, …}}
 * p11-kit has no call that lists vendor query attributes: "vendor" answers, for each name=… in the text after the
 * first ? (split on &, names as written), what p11_kit_uri_get_vendor_query returns for it.
 * Fields are printed in full, blank padding included: the caller compares without it (RFC 7512 §2.3).
 */
#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void hex(const void *data, size_t length) {
	const unsigned char *bytes = data;
	putchar('"');
	for (size_t i = 0; i < length; i++) printf("%02x", bytes[i]);
	putchar('"');
}

static void field(const char *name, const CK_UTF8CHAR *value, size_t length, int comma) {
	printf("\"%s\":", name);
	hex(value, value[0] == 0 ? 0 : length);
	if (comma) putchar(',');
}

static void text(const char *name, const char *value) {
	printf(",\"%s\":", name);
	if (value == NULL) fputs("null", stdout);
	else hex(value, strlen(value));
}

static int unhex(char *line) {
	size_t n = strlen(line);
	if (n % 2 != 0) return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned int byte;
		if (sscanf(line + 2 * i, "%2x", &byte) != 1) return -1;
		line[i] = (char)byte;
	}
	line[n / 2] = 0;
	return 0;
}

static void vendor(P11KitUri *uri, const char *string) {
	const char *query = strchr(string, '?');
	printf(",\"vendor\":{");
	int first = 1;
	if (query != NULL) {
		char *copy = strdup(query + 1), *save = NULL;
		for (char *part = strtok_r(copy, "&", &save); part != NULL; part = strtok_r(NULL, "&", &save)) {
			char *eq = strchr(part, '=');
			if (eq == NULL) continue;
			*eq = 0;
			if (!first) putchar(',');
			first = 0;
			hex(part, strlen(part));
			putchar(':');
			const char *value = p11_kit_uri_get_vendor_query(uri, part);
			if (value == NULL) fputs("null", stdout);
			else hex(value, strlen(value));
		}
		free(copy);
	}
	putchar('}');
}

int main(int argc, char **argv) {
	int hexInput = argc > 1 && strcmp(argv[1], "-x") == 0;
	char *line = NULL;
	size_t size = 0;
	ssize_t got;
	while ((got = getline(&line, &size, stdin)) >= 0) {
		if (got > 0 && line[got - 1] == '\n') line[--got] = 0;
		if (hexInput && unhex(line) != 0) {
			printf("{\"rc\":null,\"message\":\"bad hex input\"}\n");
			continue;
		}
		P11KitUri *uri = p11_kit_uri_new();
		int rc = p11_kit_uri_parse(line, P11_KIT_URI_FOR_ANY, uri);
		const char *message = rc == P11_KIT_URI_OK ? "" : p11_kit_uri_message(rc);
		printf("{\"rc\":%d,\"message\":\"%s\",\"unrecognized\":%s", rc, message ? message : "",
		       p11_kit_uri_any_unrecognized(uri) ? "true" : "false");
		if (rc == P11_KIT_URI_OK) {
			CK_INFO *module = p11_kit_uri_get_module_info(uri);
			printf(",\"module\":{");
			field("manufacturer", module->manufacturerID, sizeof module->manufacturerID, 1);
			field("description", module->libraryDescription, sizeof module->libraryDescription, 1);
			if (module->libraryVersion.major == (CK_BYTE)-1) printf("\"version\":null}");
			else printf("\"version\":\"%u.%u\"}", module->libraryVersion.major, module->libraryVersion.minor);

			CK_TOKEN_INFO *token = p11_kit_uri_get_token_info(uri);
			printf(",\"token\":{");
			field("label", token->label, sizeof token->label, 1);
			field("manufacturer", token->manufacturerID, sizeof token->manufacturerID, 1);
			field("model", token->model, sizeof token->model, 1);
			field("serial", token->serialNumber, sizeof token->serialNumber, 0);
			putchar('}');

			CK_SLOT_INFO *slot = p11_kit_uri_get_slot_info(uri);
			CK_SLOT_ID slotId = p11_kit_uri_get_slot_id(uri);
			printf(",\"slot\":{");
			field("description", slot->slotDescription, sizeof slot->slotDescription, 1);
			field("manufacturer", slot->manufacturerID, sizeof slot->manufacturerID, 1);
			if (slotId == (CK_SLOT_ID)-1) printf("\"id\":null}");
			else printf("\"id\":\"%lu\"}", (unsigned long)slotId);

			CK_ULONG count = 0;
			CK_ATTRIBUTE *attributes = p11_kit_uri_get_attributes(uri, &count);
			printf(",\"attributes\":[");
			for (CK_ULONG i = 0; i < count; i++) {
				printf("%s{\"type\":%lu,\"value\":", i ? "," : "", (unsigned long)attributes[i].type);
				if (attributes[i].type == CKA_CLASS && attributes[i].ulValueLen == sizeof(CK_OBJECT_CLASS))
					printf("%lu}", (unsigned long)*(CK_OBJECT_CLASS *)attributes[i].pValue);
				else {
					hex(attributes[i].pValue, attributes[i].ulValueLen);
					putchar('}');
				}
			}
			putchar(']');
			text("pinValue", p11_kit_uri_get_pin_value(uri));
			text("pinSource", p11_kit_uri_get_pin_source(uri));
			text("moduleName", p11_kit_uri_get_module_name(uri));
			text("modulePath", p11_kit_uri_get_module_path(uri));
			vendor(uri, line);
		}
		printf("}\n");
		p11_kit_uri_free(uri);
	}
	free(line);
	return 0;
}
