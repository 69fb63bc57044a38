/* spec.image: the template's defaultImage, bounded by allowedImages. */
#include <stdio.h>

#include "engine.h"
#include "spacekeeper/json.h"

void skp_images_check(struct eval *ev, const char *field, const json_t *v)
{
    const char *image = json_string_value(v);
    if (!*image) {
        skp_violation(ev, field, "%s must not be empty", field);
        return;
    }
    if (!ev->tpl || sk_template_allows_image(ev->tpl, image))
        return;
    char allowed[512];
    sk_template_describe_images(ev->tpl, 5, allowed, sizeof allowed);
    if (ev->self_check)
        skp_violation(ev, field,
                      "%s \"%s\" is not in spec.allowedImages (%s): list it there or set "
                      "allowCustomImages: true",
                      field, image, allowed);
    else
        skp_violation(ev, field, "%s \"%s\" is not allowed by template \"%s\" (allowed: %s)",
                      field, image, skp_tpl_name(ev), allowed);
}

/* The seed's default, the latest SageMaker Distribution (--default-image),
 * when no template gives a defaultImage; only where the template allows it,
 * so that a template with a fixed list asks for an image rather than
 * offering one it then refuses. */
json_t *skp_images_derive(const struct eval *ev)
{
    const char *image = ev->cfg->default_image;
    if (!image || !*image || (ev->tpl && !sk_template_allows_image(ev->tpl, image)))
        return NULL;
    return json_string(image);
}

/* After every default: a workspace without an image cannot start. */
void skp_images_require(struct eval *ev)
{
    const json_t *image = sk_json_get(ev->obj, "spec", "image", NULL);
    if (image && !json_is_null(image))
        return;
    if (ev->tpl) {
        char allowed[512];
        sk_template_describe_images(ev->tpl, 5, allowed, sizeof allowed);
        skp_violation(ev, "spec.image",
                      "spec.image is required: template \"%s\" has no defaultImage (allowed: %s)",
                      ev->tpl->name, allowed);
    } else {
        skp_violation(ev, "spec.image",
                      "spec.image is required: no template applies and no default image is "
                      "configured");
    }
}
