/* YAML loader on arbitrary bytes: never crashes, and whatever loads survives
 * a dump and a reload unchanged (the emitter quotes what must stay a string). */
#include <stdlib.h>
#include <string.h>

#include "spacekeeper/yaml.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    sk_err err;
    json_t *docs = sk_yaml_load((const char *)data, size, "fuzz", &err);
    if (!docs)
        return 0;
    size_t i;
    json_t *doc;
    json_array_foreach(docs, i, doc) {
        char *text = sk_yaml_dump(doc);
        if (!text)
            abort();
        json_t *again = sk_yaml_load(text, strlen(text), "dump", &err);
        if (!again || !json_equal(json_array_get(again, 0), doc))
            abort();
        json_decref(again);
        free(text);
    }
    json_decref(docs);
    return 0;
}
