#include "spacekeeper/spelling.h"

#include <string.h>

const sk_spelling SK_SPELL_IDLE_TIMEOUT = {"idleShutdownTimeoutMinutes", "idleTimeoutInMinutes"};
const sk_spelling SK_SPELL_IDLE_MIN = {"minTimeoutMinutes", "minIdleTimeoutInMinutes"};
const sk_spelling SK_SPELL_IDLE_MAX = {"maxTimeoutMinutes", "maxIdleTimeoutInMinutes"};

int sk_spelling_get(const json_t *obj, const sk_spelling *s, const json_t **value,
                    const char **key)
{
    json_t *page = json_object_get(obj, s->page), *op = json_object_get(obj, s->operator);
    *key = page || !op ? s->page : s->operator;
    *value = page ? page : op;
    return page && op && !json_equal(page, op) ? -1 : 0;
}

int sk_spelling_same_idle(const json_t *a, const json_t *b)
{
    if (!a || !b)
        return a == b;
    if (!json_is_object(a) || !json_is_object(b))
        return json_equal((json_t *)a, (json_t *)b);
    const json_t *ta, *tb;
    const char *ka, *kb;
    if (sk_spelling_get(a, &SK_SPELL_IDLE_TIMEOUT, &ta, &ka) < 0 ||
        sk_spelling_get(b, &SK_SPELL_IDLE_TIMEOUT, &tb, &kb) < 0)
        return 0;
    if ((ta || tb) && !(ta && tb && json_equal((json_t *)ta, (json_t *)tb)))
        return 0;
    for (int side = 0; side < 2; side++) {
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)(side ? b : a), key, v) {
            if (strcmp(key, SK_SPELL_IDLE_TIMEOUT.page) == 0 ||
                strcmp(key, SK_SPELL_IDLE_TIMEOUT.operator) == 0)
                continue;
            if (!json_equal(v, json_object_get(side ? a : b, key)))
                return 0;
        }
    }
    return 1;
}
