#include "CGSSProbe.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

// The RFC 2744 C bindings' types and constants, as MIT's <gssapi/gssapi.h> defines them on Linux.
typedef uint32_t OM_uint32;
typedef struct { OM_uint32 length; void *elements; } gss_OID_desc;
typedef struct { size_t count; gss_OID_desc *elements; } gss_OID_set_desc;
typedef struct { size_t length; void *value; } gss_buffer_desc;
typedef void *gss_name_t;
typedef void *gss_cred_id_t;
typedef void *gss_ctx_id_t;
#define GSS_C_INITIATE 1
#define GSS_C_MECH_CODE 2
#define GSS_ERROR(x) ((x) & 0xffff0000u)
#define GSS_ROUTINE_ERROR(x) ((x) & 0x00ff0000u)
#define GSS_S_CREDENTIALS_EXPIRED (11u << 16)
#define GSS_S_NO_CRED (7u << 16)

static gss_OID_desc krb5_mech = {9, "\x2a\x86\x48\x86\xf7\x12\x01\x02\x02"};
static gss_OID_desc hostbased_service = {10, "\x2a\x86\x48\x86\xf7\x12\x01\x02\x01\x04"};

static struct {
    OM_uint32 (*acquire_cred)(OM_uint32 *, gss_name_t, OM_uint32, gss_OID_set_desc *, int, gss_cred_id_t *,
                              gss_OID_set_desc **, OM_uint32 *);
    OM_uint32 (*inquire_cred)(OM_uint32 *, gss_cred_id_t, gss_name_t *, OM_uint32 *, int *, gss_OID_set_desc **);
    OM_uint32 (*display_name)(OM_uint32 *, gss_name_t, gss_buffer_desc *, gss_OID_desc **);
    OM_uint32 (*import_name)(OM_uint32 *, gss_buffer_desc *, gss_OID_desc *, gss_name_t *);
    OM_uint32 (*init_sec_context)(OM_uint32 *, gss_cred_id_t, gss_ctx_id_t *, gss_name_t, gss_OID_desc *, OM_uint32,
                                  OM_uint32, void *, gss_buffer_desc *, gss_OID_desc **, gss_buffer_desc *,
                                  OM_uint32 *, OM_uint32 *);
    OM_uint32 (*display_status)(OM_uint32 *, OM_uint32, int, gss_OID_desc *, OM_uint32 *, gss_buffer_desc *);
    OM_uint32 (*release_buffer)(OM_uint32 *, gss_buffer_desc *);
    OM_uint32 (*release_name)(OM_uint32 *, gss_name_t *);
    OM_uint32 (*release_cred)(OM_uint32 *, gss_cred_id_t *);
    OM_uint32 (*delete_sec_context)(OM_uint32 *, gss_ctx_id_t *, gss_buffer_desc *);
} gss;
static int loaded;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void load(void) {
    void *library = dlopen("libgssapi_krb5.so.2", RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) return;
#define LOAD(field, name) *(void **)&gss.field = dlsym(library, name); if (gss.field == NULL) return;
    LOAD(acquire_cred, "gss_acquire_cred")
    LOAD(inquire_cred, "gss_inquire_cred")
    LOAD(display_name, "gss_display_name")
    LOAD(import_name, "gss_import_name")
    LOAD(init_sec_context, "gss_init_sec_context")
    LOAD(display_status, "gss_display_status")
    LOAD(release_buffer, "gss_release_buffer")
    LOAD(release_name, "gss_release_name")
    LOAD(release_cred, "gss_release_cred")
    LOAD(delete_sec_context, "gss_delete_sec_context")
#undef LOAD
    loaded = 1;
}

/// Appends the mechanism's text for `minor` (the krb5 error, e.g. "Server ... not found in Kerberos database").
static void describe(OM_uint32 minor, char *detail, size_t size) {
    OM_uint32 context = 0, ignored;
    gss_buffer_desc text = {0, NULL};
    if (gss.display_status(&ignored, minor, GSS_C_MECH_CODE, &krb5_mech, &context, &text) == 0 && text.value) {
        snprintf(detail, size, "%.*s", (int)text.length, (const char *)text.value);
        gss.release_buffer(&ignored, &text);
    }
}

static int contains(const char *text, const char *part) { return strstr(text, part) != NULL; }

int CGSSProbe_check(const char *host, char *detail, size_t detail_size) {
    if (detail_size > 0) detail[0] = 0;
    pthread_once(&load_once, load);
    if (!loaded) return CGSSProbe_UNAVAILABLE;

    OM_uint32 minor = 0, ignored, lifetime = 0;
    gss_OID_set_desc mechs = {1, &krb5_mech};
    gss_cred_id_t cred = NULL;
    OM_uint32 major = gss.acquire_cred(&minor, NULL, 0, &mechs, GSS_C_INITIATE, &cred, NULL, &lifetime);
    if (GSS_ERROR(major)) {
        describe(minor, detail, detail_size);
        if (GSS_ROUTINE_ERROR(major) == GSS_S_CREDENTIALS_EXPIRED || contains(detail, "xpired")) {
            return CGSSProbe_EXPIRED;
        }
        return CGSSProbe_NO_TICKET;
    }
    gss_name_t principal = NULL;
    OM_uint32 inquired = gss.inquire_cred(&ignored, cred, &principal, &lifetime, NULL, NULL);
    // An expired credential makes gss_inquire_cred fail and still hand out the principal: release it either way
    // (LeakSanitizer found the 80 bytes).
    if (principal != NULL) {
        gss_buffer_desc name = {0, NULL};
        if (inquired == 0 && gss.display_name(&ignored, principal, &name, NULL) == 0 && name.value) {
            snprintf(detail, detail_size, "%.*s", (int)name.length, (const char *)name.value);
            gss.release_buffer(&ignored, &name);
        }
        gss.release_name(&ignored, &principal);
    }
    if (lifetime == 0) {
        gss.release_cred(&ignored, &cred);
        return CGSSProbe_EXPIRED;
    }

    char service[512];
    snprintf(service, sizeof service, "HTTP@%s", host);
    gss_buffer_desc service_buffer = {strlen(service), service};
    gss_name_t target = NULL;
    int result = CGSSProbe_OK;
    major = gss.import_name(&minor, &service_buffer, &hostbased_service, &target);
    if (GSS_ERROR(major)) {
        describe(minor, detail, detail_size);
        result = CGSSProbe_OTHER;
    } else {
        gss_ctx_id_t context = NULL;
        gss_buffer_desc token = {0, NULL};
        major = gss.init_sec_context(&minor, cred, &context, target, &krb5_mech, 0, 0, NULL, NULL, NULL, &token,
                                     NULL, NULL);
        if (GSS_ERROR(major)) {
            char principal_name[256];
            snprintf(principal_name, sizeof principal_name, "%s", detail);
            describe(minor, detail, detail_size);
            if (contains(detail, "not found in Kerberos database") || contains(detail, "annot find KDC")) {
                result = CGSSProbe_UNKNOWN_SERVICE;
            } else if (contains(detail, "xpired")) {
                result = CGSSProbe_EXPIRED;
            } else {
                result = CGSSProbe_OTHER;
            }
            if (principal_name[0] && result != CGSSProbe_OTHER) snprintf(detail, detail_size, "%s", principal_name);
        }
        if (token.value) gss.release_buffer(&ignored, &token);
        if (context) gss.delete_sec_context(&ignored, &context, NULL);
        gss.release_name(&ignored, &target);
    }
    gss.release_cred(&ignored, &cred);
    return result;
}

int CGSSProbe_principal(char *name, size_t name_size) {
    if (name_size > 0) name[0] = 0;
    pthread_once(&load_once, load);
    if (!loaded) return CGSSProbe_UNAVAILABLE;
    OM_uint32 minor = 0, ignored;
    gss_OID_set_desc mechs = {1, &krb5_mech};
    gss_cred_id_t cred = NULL;
    if (GSS_ERROR(gss.acquire_cred(&minor, NULL, 0, &mechs, GSS_C_INITIATE, &cred, NULL, NULL))) {
        return CGSSProbe_NO_TICKET;
    }
    gss_name_t principal = NULL;
    OM_uint32 inquired = gss.inquire_cred(&ignored, cred, &principal, NULL, NULL, NULL);
    if (principal != NULL) {
        gss_buffer_desc text = {0, NULL};
        if (inquired == 0 && gss.display_name(&ignored, principal, &text, NULL) == 0 && text.value) {
            snprintf(name, name_size, "%.*s", (int)text.length, (const char *)text.value);
            gss.release_buffer(&ignored, &text);
        }
        gss.release_name(&ignored, &principal);
    }
    gss.release_cred(&ignored, &cred);
    return name_size > 0 && name[0] ? CGSSProbe_OK : CGSSProbe_NO_TICKET;
}
