/* Reads OpenCV's Haar cascade XML (the "opencv_storage/cascade" format of
 * opencv-data) with libxml2 and validates every count and index, so the
 * detector can evaluate it without bounds checks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "vision/haar.h"

#define MAX_XML_BYTES ((size_t)64 << 20)
#define MAX_WINDOW 1024
/* Numbers in one internalNodes or leafValues element (deep trees). */
#define MAX_TREE_NUMBERS 4096

/* Parse state: the file name for messages and the growing cascade. */
typedef struct reader {
    const char *path;
    fer_error *err;
    fer_cascade *c;
    int cap_trees, cap_nodes, cap_leaves;
} reader;

static fer_status fail_at(reader *r, const xmlNode *n, fer_status code, const char *what)
{
    return fer_fail(r->err, code, "%s:%ld: %s", r->path, n ? (long)xmlGetLineNo(n) : 0L, what);
}

static int is_elem(const xmlNode *n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && (!name || strcmp((const char *)n->name, name) == 0);
}

static xmlNode *child(const xmlNode *parent, const char *name)
{
    for (xmlNode *n = parent->children; n; n = n->next)
        if (is_elem(n, name))
            return n;
    return NULL;
}

static int count_items(const xmlNode *list)
{
    int k = 0;
    for (xmlNode *n = list->children; n; n = n->next)
        k += is_elem(n, "_");
    return k;
}

/* Whitespace-separated numbers of an element's text: exactly `want` of
 * them unless want < 0, then up to `cap`; *got receives the count. */
static fer_status numbers(reader *r, const xmlNode *n, const char *field, double *out, int want,
                          int cap, int *got)
{
    char msg[160];
    xmlChar *text = xmlNodeGetContent(n);
    if (!text)
        return fail_at(r, n, FER_ENOMEM, "out of memory");
    const char *p = (const char *)text;
    int k = 0;
    fer_status s = FER_OK;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            p++;
        if (!*p)
            break;
        size_t len = strcspn(p, " \t\n\r");
        char tok[64];
        double v;
        /* the library's one number grammar (core/number.c), token by token */
        if (len >= sizeof tok || (memcpy(tok, p, len), tok[len] = 0,
                                  !fer_parse_number(tok, -1e300, 1e300, &v))) {
            snprintf(msg, sizeof msg, "<%s>: \"%.20s\" is not a finite number", field, p);
            s = fail_at(r, n, FER_EFORMAT, msg);
            break;
        }
        if (k == (want >= 0 ? want : cap)) {
            snprintf(msg, sizeof msg, "<%s>: more than %d numbers", field, k);
            s = fail_at(r, n, FER_EFORMAT, msg);
            break;
        }
        out[k++] = v;
        p += len;
    }
    xmlFree(text);
    if (s == FER_OK && want >= 0 && k != want) {
        snprintf(msg, sizeof msg, "<%s>: %d numbers, expected %d", field, k, want);
        s = fail_at(r, n, FER_EFORMAT, msg);
    }
    *got = k;
    return s;
}

/* A required integer field <name> of parent, within [lo, hi]. */
static fer_status int_field(reader *r, const xmlNode *parent, const char *name, int lo, int hi,
                            int *out)
{
    char msg[160];
    const xmlNode *n = child(parent, name);
    if (!n) {
        snprintf(msg, sizeof msg, "<%s> is missing", name);
        return fail_at(r, parent, FER_EFORMAT, msg);
    }
    double v;
    int got;
    fer_status s = numbers(r, n, name, &v, 1, 1, &got);
    if (s != FER_OK)
        return s;
    if (v != floor(v) || v < lo || v > hi) {
        snprintf(msg, sizeof msg, "<%s> is %g, expected an integer in [%d, %d]", name, v, lo, hi);
        return fail_at(r, n, FER_EFORMAT, msg);
    }
    *out = (int)v;
    return FER_OK;
}

static fer_status text_field(reader *r, const xmlNode *parent, const char *name, char *out,
                             size_t cap)
{
    char msg[160];
    const xmlNode *n = child(parent, name);
    if (!n) {
        snprintf(msg, sizeof msg, "<%s> is missing", name);
        return fail_at(r, parent, FER_EFORMAT, msg);
    }
    xmlChar *text = xmlNodeGetContent(n);
    if (!text)
        return fail_at(r, n, FER_ENOMEM, "out of memory");
    const char *p = (const char *)text;
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    size_t k = 0;
    while (p[k] && p[k] != ' ' && p[k] != '\n' && p[k] != '\t' && p[k] != '\r' && k + 1 < cap)
        out[k] = p[k], k++;
    out[k] = 0;
    xmlFree(text);
    return FER_OK;
}

/* Grows an array so that it holds `need` elements. */
static int grow(void **p, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return 1;
    int nc = *cap ? *cap : 256;
    while (nc < need)
        nc *= 2;
    void *np = realloc(*p, (size_t)nc * elem);
    if (!np)
        return 0;
    *p = np;
    *cap = nc;
    return 1;
}

/* Checks that every child of every node points forward inside its tree
 * (so evaluation always terminates) and every leaf exists. */
static fer_status check_tree(reader *r, const xmlNode *n, const haar_node *nodes, int n_nodes)
{
    for (int i = 0; i < n_nodes; i++) {
        int kids[2] = {nodes[i].left, nodes[i].right};
        for (int k = 0; k < 2; k++) {
            int c = kids[k];
            if ((c > 0 && (c <= i || c >= n_nodes)) || (c <= 0 && -c > n_nodes)) {
                char msg[160];
                snprintf(msg, sizeof msg, "<internalNodes>: node %d has child %d outside its tree",
                         i, c);
                return fail_at(r, n, FER_EFORMAT, msg);
            }
        }
    }
    return FER_OK;
}

/* One weak classifier: internalNodes (left right feature threshold)*,
 * leafValues (n_nodes + 1 values). */
static fer_status read_tree(reader *r, const xmlNode *w, double *buf)
{
    fer_cascade *c = r->c;
    const xmlNode *in = child(w, "internalNodes"), *lv = child(w, "leafValues");
    if (!in || !lv)
        return fail_at(r, w, FER_EFORMAT, "weak classifier without <internalNodes>/<leafValues>");
    int got;
    fer_status s = numbers(r, in, "internalNodes", buf, -1, MAX_TREE_NUMBERS, &got);
    if (s != FER_OK)
        return s;
    if (got == 0 || got % 4 != 0)
        return fail_at(r, in, FER_EFORMAT,
                       "<internalNodes>: expected groups of 4 numbers (left right feature "
                       "threshold); categorical (LBP) cascades are not supported");
    int nn = got / 4;
    if (!grow((void **)&c->nodes, &r->cap_nodes, c->n_nodes + nn, sizeof *c->nodes) ||
        !grow((void **)&c->trees, &r->cap_trees, c->n_trees + 1, sizeof *c->trees) ||
        !grow((void **)&c->leaves, &r->cap_leaves, c->n_leaves + nn + 1, sizeof *c->leaves))
        return fail_at(r, w, FER_ENOMEM, "out of memory");
    haar_node *nodes = c->nodes + c->n_nodes;
    for (int i = 0; i < nn; i++) {
        const double *q = buf + 4 * i;
        if (q[0] != floor(q[0]) || q[1] != floor(q[1]) || q[2] != floor(q[2]) ||
            fabs(q[0]) > MAX_TREE_NUMBERS || fabs(q[1]) > MAX_TREE_NUMBERS)
            return fail_at(r, in, FER_EFORMAT, "<internalNodes>: non-integer node index");
        if (q[2] < 0 || q[2] >= c->n_features) {
            char msg[160];
            snprintf(msg, sizeof msg, "<internalNodes>: feature index %g outside [0, %d)", q[2],
                     c->n_features);
            return fail_at(r, in, FER_EFORMAT, msg);
        }
        nodes[i] = (haar_node){(int)q[2], (float)q[3], (int)q[0], (int)q[1]};
    }
    if ((s = check_tree(r, in, nodes, nn)) != FER_OK)
        return s;
    if ((s = numbers(r, lv, "leafValues", buf, nn + 1, nn + 1, &got)) != FER_OK)
        return s;
    for (int i = 0; i <= nn; i++)
        c->leaves[c->n_leaves + i] = (float)buf[i];
    c->trees[c->n_trees++] = (haar_tree){c->n_nodes, nn, c->n_leaves};
    c->n_nodes += nn;
    c->n_leaves += nn + 1;
    if (nn > c->max_nodes_per_tree)
        c->max_nodes_per_tree = nn;
    return FER_OK;
}

static fer_status read_stage(reader *r, const xmlNode *st, int index, double *buf)
{
    fer_cascade *c = r->c;
    char msg[160];
    const xmlNode *thr = child(st, "stageThreshold"), *weak = child(st, "weakClassifiers");
    if (!thr || !weak) {
        snprintf(msg, sizeof msg, "stage %d without <stageThreshold>/<weakClassifiers>", index);
        return fail_at(r, st, FER_EFORMAT, msg);
    }
    double t;
    int got, n_weak = count_items(weak), declared;
    fer_status s = numbers(r, thr, "stageThreshold", &t, 1, 1, &got);
    if (s != FER_OK)
        return s;
    if (n_weak == 0) {
        snprintf(msg, sizeof msg, "stage %d has no weak classifiers", index);
        return fail_at(r, weak, FER_EFORMAT, msg);
    }
    if (child(st, "maxWeakCount")) {
        if ((s = int_field(r, st, "maxWeakCount", 0, 1 << 20, &declared)) != FER_OK)
            return s;
        if (declared != n_weak) {
            snprintf(msg, sizeof msg, "stage %d: <maxWeakCount> says %d, found %d classifiers",
                     index, declared, n_weak);
            return fail_at(r, st, FER_EFORMAT, msg);
        }
    }
    haar_stage *stage = &c->stages[index];
    stage->first_tree = c->n_trees;
    stage->n_trees = n_weak;
    stage->threshold = (float)t - 1e-5f; /* OpenCV's THRESHOLD_EPS */
    for (xmlNode *w = weak->children; w; w = w->next)
        if (is_elem(w, "_") && (s = read_tree(r, w, buf)) != FER_OK)
            return s;
    return FER_OK;
}

/* Whether rectangle q (x y w h) lies in the window: upright, or tilted
 * with its four corners (see haar.h) inside the window's integral. */
static int inside(const double *q, int tilted, int ww, int wh)
{
    double x = q[0], y = q[1], w = q[2], h = q[3];
    if (w <= 0 || h <= 0 || y < 0)
        return 0;
    if (tilted)
        return x - h >= 0 && x + w <= ww && y + w + h <= wh;
    return x >= 0 && x + w <= ww && y + h <= wh;
}

static fer_status read_feature(reader *r, const xmlNode *f, haar_feature *out)
{
    char msg[200];
    const xmlNode *rects = child(f, "rects"), *tilted = child(f, "tilted");
    if (!rects)
        return fail_at(r, f, FER_EFORMAT, "feature without <rects>");
    memset(out, 0, sizeof *out);
    if (tilted) {
        fer_status s = int_field(r, f, "tilted", 0, 1, &out->tilted);
        if (s != FER_OK)
            return s;
        r->c->has_tilted |= out->tilted;
    }
    for (xmlNode *n = rects->children; n; n = n->next) {
        if (!is_elem(n, "_"))
            continue;
        if (out->n_rects == HAAR_MAX_RECTS)
            return fail_at(r, n, FER_EFORMAT, "feature with more than 3 rectangles");
        double q[5];
        int got;
        fer_status s = numbers(r, n, "rects/_", q, 5, 5, &got);
        if (s != FER_OK)
            return s;
        haar_rect *hr = &out->r[out->n_rects++];
        if (q[0] != floor(q[0]) || q[1] != floor(q[1]) || q[2] != floor(q[2]) ||
            q[3] != floor(q[3]) || !inside(q, out->tilted, r->c->win_w, r->c->win_h)) {
            snprintf(msg, sizeof msg, "%srectangle %g %g %g %g is not inside the %dx%d window",
                     out->tilted ? "tilted " : "", q[0], q[1], q[2], q[3], r->c->win_w,
                     r->c->win_h);
            return fail_at(r, n, FER_EFORMAT, msg);
        }
        *hr = (haar_rect){(int)q[0], (int)q[1], (int)q[2], (int)q[3], (float)q[4]};
    }
    if (out->n_rects == 0)
        return fail_at(r, rects, FER_EFORMAT, "feature without rectangles");
    return FER_OK;
}

static fer_status read_features(reader *r, const xmlNode *list)
{
    fer_cascade *c = r->c;
    int n = count_items(list);
    if (n == 0)
        return fail_at(r, list, FER_EFORMAT, "<features> is empty");
    c->features = calloc((size_t)n, sizeof *c->features);
    if (!c->features)
        return fail_at(r, list, FER_ENOMEM, "out of memory");
    for (xmlNode *f = list->children; f; f = f->next) {
        if (!is_elem(f, "_"))
            continue;
        fer_status s = read_feature(r, f, &c->features[c->n_features]);
        if (s != FER_OK)
            return s;
        c->n_features++;
    }
    return FER_OK;
}

/* Header fields: BOOST stages of HAAR features, window size, counts. */
static fer_status read_header(reader *r, const xmlNode *cas)
{
    char word[32], msg[160];
    fer_status s = text_field(r, cas, "stageType", word, sizeof word);
    if (s != FER_OK)
        return s;
    if (strcmp(word, "BOOST") != 0) {
        snprintf(msg, sizeof msg, "stage type \"%s\" is not supported (only BOOST)", word);
        return fail_at(r, cas, FER_EUNSUPPORTED, msg);
    }
    if ((s = text_field(r, cas, "featureType", word, sizeof word)) != FER_OK)
        return s;
    if (strcmp(word, "HAAR") != 0) {
        snprintf(msg, sizeof msg, "feature type \"%s\" is not supported (only HAAR)", word);
        return fail_at(r, cas, FER_EUNSUPPORTED, msg);
    }
    if ((s = int_field(r, cas, "width", 3, MAX_WINDOW, &r->c->win_w)) != FER_OK ||
        (s = int_field(r, cas, "height", 3, MAX_WINDOW, &r->c->win_h)) != FER_OK)
        return s;
    const xmlNode *fp = child(cas, "featureParams");
    int cats = 0;
    if (fp && child(fp, "maxCatCount") &&
        (s = int_field(r, fp, "maxCatCount", 0, 1 << 20, &cats)) != FER_OK)
        return s;
    if (cats != 0)
        return fail_at(r, fp, FER_EUNSUPPORTED, "categorical features are not supported");
    return FER_OK;
}

static fer_status read_cascade(reader *r, const xmlNode *cas)
{
    fer_cascade *c = r->c;
    fer_status s = read_header(r, cas);
    if (s != FER_OK)
        return s;
    const xmlNode *stages = child(cas, "stages"), *features = child(cas, "features");
    if (!stages || !features)
        return fail_at(r, cas, FER_EFORMAT, "<stages> or <features> is missing");
    /* Features first: tree nodes refer to them by index. */
    if ((s = read_features(r, features)) != FER_OK)
        return s;
    int n = count_items(stages), declared;
    if (n == 0)
        return fail_at(r, stages, FER_EFORMAT, "<stages> is empty");
    if (child(cas, "stageNum")) {
        if ((s = int_field(r, cas, "stageNum", 0, 1 << 20, &declared)) != FER_OK)
            return s;
        if (declared != n) {
            char msg[160];
            snprintf(msg, sizeof msg, "<stageNum> says %d, found %d stages", declared, n);
            return fail_at(r, stages, FER_EFORMAT, msg);
        }
    }
    c->stages = calloc((size_t)n, sizeof *c->stages);
    double *buf = malloc(sizeof *buf * MAX_TREE_NUMBERS);
    if (!c->stages || !buf) {
        free(buf);
        return fail_at(r, stages, FER_ENOMEM, "out of memory");
    }
    for (xmlNode *st = stages->children; st && s == FER_OK; st = st->next)
        if (is_elem(st, "_"))
            s = read_stage(r, st, c->n_stages++, buf);
    free(buf);
    return s;
}

/* The <cascade> element under <opencv_storage>; refuses the old format. */
static fer_status find_cascade(reader *r, const xmlDoc *doc, const xmlNode **out)
{
    const xmlNode *root = xmlDocGetRootElement(doc);
    if (!is_elem(root, "opencv_storage"))
        return fail_at(r, root, FER_EFORMAT, "root element is not <opencv_storage>");
    const xmlNode *first = NULL;
    for (xmlNode *n = root->children; n && !first; n = n->next)
        if (is_elem(n, NULL))
            first = n;
    if (!first)
        return fail_at(r, root, FER_EFORMAT, "<opencv_storage> is empty");
    if (!is_elem(first, "cascade"))
        return fail_at(r, first, FER_EUNSUPPORTED,
                       "old-format cascade (no <cascade> element); convert it with OpenCV "
                       "first");
    *out = first;
    return FER_OK;
}

/* SAX callback for <!DOCTYPE ...>: a cascade needs no DTD, and one could
 * declare entities that expand without bound when the text is read ("billion
 * laughs": a 222 KB file became 4 GB). The parser stops there, before any
 * declaration, and the line is kept for the message. */
static void refuse_doctype(void *ctx, const xmlChar *name, const xmlChar *public_id,
                           const xmlChar *system_id)
{
    (void)name, (void)public_id, (void)system_id;
    xmlParserCtxtPtr ctxt = ctx;
    *(int *)ctxt->_private = ctxt->input ? ctxt->input->line : 1;
    xmlStopParser(ctxt);
}

static fer_status parse_doc(reader *r, const char *data, size_t len)
{
    if (len > (size_t)0x7fffffff)
        return fer_fail(r->err, FER_ERANGE, "%s: file too large", r->path);
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt)
        return fer_fail(r->err, FER_ENOMEM, "%s: out of memory", r->path);
    int doctype_line = 0;
    ctxt->_private = &doctype_line;
    ctxt->sax->internalSubset = refuse_doctype;
    /* No entity substitution, no DTD loading, no network (libxml2 defaults
     * kept explicit); no XML_PARSE_HUGE, so its own size limits hold. */
    xmlDocPtr doc = xmlCtxtReadMemory(ctxt, data, (int)len, r->path, NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    fer_status s;
    if (doctype_line) {
        xmlFreeDoc(doc);
        s = fer_fail(r->err, FER_EFORMAT, "%s:%d: a DOCTYPE (DTD, entities) is not allowed in "
                     "a cascade", r->path, doctype_line);
    } else if (!doc) {
        const xmlError *e = xmlCtxtGetLastError(ctxt);
        char msg[200];
        snprintf(msg, sizeof msg, "%s", e && e->message ? e->message : "malformed XML");
        msg[strcspn(msg, "\n")] = 0;
        s = fer_fail(r->err, FER_EFORMAT, "%s:%d: XML error: %s", r->path, e ? e->line : 0, msg);
    } else {
        const xmlNode *cas = NULL;
        s = find_cascade(r, doc, &cas);
        if (s == FER_OK)
            s = read_cascade(r, cas);
        xmlFreeDoc(doc);
    }
    xmlFreeParserCtxt(ctxt);
    return s;
}

fer_status fer_cascade_load(const char *path, fer_cascade **out, fer_error *err)
{
    if (!path || !out)
        return fer_fail(err, FER_EINVAL, "fer_cascade_load: NULL argument");
    *out = NULL;
    char *data;
    size_t len;
    fer_status s = fer_file_read(path, MAX_XML_BYTES, &data, &len, err);
    if (s != FER_OK)
        return s;
    fer_cascade *c = calloc(1, sizeof *c);
    if (!c) {
        free(data);
        return fer_fail(err, FER_ENOMEM, "%s: out of memory", path);
    }
    reader r = {path, err, c, 0, 0, 0};
    s = parse_doc(&r, data, len);
    free(data);
    if (s != FER_OK) {
        fer_cascade_free(c);
        return s;
    }
    *out = c;
    return FER_OK;
}

void fer_cascade_free(fer_cascade *c)
{
    if (!c)
        return;
    free(c->stages);
    free(c->trees);
    free(c->nodes);
    free(c->leaves);
    free(c->features);
    free(c);
}
