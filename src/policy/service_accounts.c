/* spec.serviceAccountName: pending. */
#include "engine.h"

void skp_service_accounts_check(struct eval *ev, const char *field, const json_t *v)
{
    (void)ev;
    (void)field;
    (void)v;
}

json_t *skp_service_accounts_derive(const struct eval *ev)
{
    (void)ev;
    return NULL;
}
