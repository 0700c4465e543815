/* classify.c: tag one text with the default model, in one call.
 *
 *   cc classify.c $(pkg-config --cflags --libs aitag) -o classify
 *   ./classify "Samsung starts mass production of HBM4 for AI accelerators"
 */
#include <stdio.h>
#include <string.h>

#include <aitag/aitag.h>

int main(int argc, char **argv)
{
    const char *text = argc > 1 ? argv[1] : "Nvidia's new AI chips face US export controls";
    char path[4096];
    aitag_error err = {0};
    aitag_model *m = NULL;
    aitag_classifier *c = NULL;
    if (aitag_default_model_path(path, sizeof path, &err) != AITAG_OK ||
        aitag_model_load(path, &m, &err) != AITAG_OK || aitag_classifier_create(m, &c, &err) != AITAG_OK) {
        fprintf(stderr, "classify: %s\n", err.msg);
        aitag_model_free(m);
        return 1;
    }
    aitag_result r;
    if (aitag_classify(c, text, strlen(text), NULL, &r, &err) != AITAG_OK) {
        fprintf(stderr, "classify: %s\n", err.msg);
    } else {
        for (size_t j = 0; j < r.n_tags; j++)
            printf("%s %.2f\n", aitag_model_label(m, r.tags[j]), r.probs[r.tags[j]]);
        if (r.n_tags == 0)
            printf("(no tag)\n");
    }
    printf("libaitag %s\n", aitag_version());
    aitag_classifier_free(c);
    aitag_model_free(m);
    return 0;
}
