/* libfer: emotion-aware music recommendation in C11.
 *
 * The one public header. Conventions (see docs/architecture.md):
 *  - Every function that can fail returns fer_status (FER_OK == 0) and takes a
 *    `fer_error *err` as its last argument (NULL allowed) that receives a
 *    one-line message naming the file, line or field at fault.
 *  - Handles whose state is owned (model, optimiser, pool, cascade, catalogue,
 *    Spotify client, music source) are opaque; free them with their *_free function
 *    (NULL is accepted everywhere).
 *  - The library keeps no global mutable state and never exits the process.
 */
#ifndef FER_H
#define FER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FER_VERSION "0.1.0"

/* ------------------------------------------------------------------ errors */

typedef enum fer_status {
    FER_OK = 0,
    FER_EINVAL,      /* bad argument or impossible value */
    FER_ENOMEM,      /* allocation failed */
    FER_EIO,         /* file cannot be opened, read or written */
    FER_EFORMAT,     /* malformed or corrupt content */
    FER_ERANGE,      /* value or size outside what is accepted */
    FER_ENET,        /* network or HTTP failure */
    FER_EUNSUPPORTED /* valid but not supported here */
} fer_status;

typedef struct fer_error {
    fer_status code;
    char msg[512];
} fer_error;

const char *fer_status_str(fer_status s);

/* ----------------------------------------------------------------- tensors */

#define FER_MAX_DIMS 4

/* float32, row-major (NCHW for images), data 64-byte aligned when owned. */
typedef struct fer_tensor {
    float *data;
    int ndim;
    int shape[FER_MAX_DIMS];
    size_t size; /* product of shape */
    int owns;    /* 1: data is freed by fer_tensor_free */
} fer_tensor;

fer_status fer_tensor_alloc(fer_tensor *t, int ndim, const int *shape, fer_error *err);
void fer_tensor_free(fer_tensor *t);
/* A non-owning view of caller memory. */
fer_tensor fer_tensor_view(float *data, int ndim, const int *shape);
/* Elements between consecutive indices of dimension d. */
size_t fer_tensor_stride(const fer_tensor *t, int d);
void *fer_aligned_alloc(size_t bytes); /* 64-byte aligned, zeroed; NULL on failure */
void fer_aligned_free(void *p);

/* --------------------------------------------------------------------- rng */

/* xoshiro256**; transparent so that checkpoints can store it. */
typedef struct fer_rng { uint64_t s[4]; } fer_rng;

void fer_rng_seed(fer_rng *r, uint64_t seed);
uint64_t fer_rng_u64(fer_rng *r);
double fer_rng_uniform(fer_rng *r);          /* [0,1) */
uint32_t fer_rng_below(fer_rng *r, uint32_t n); /* [0,n), unbiased */
void fer_rng_shuffle(fer_rng *r, int *idx, size_t n);

/* ----------------------------------------------------------------- threads */

typedef struct fer_pool fer_pool;

/* threads <= 0: the online CPU count (fer_threads_default; the library reads no
 * environment: the tools take FER_THREADS and pass it on). */
fer_status fer_pool_new(int threads, fer_pool **out, fer_error *err);
void fer_pool_free(fer_pool *p);
int fer_pool_threads(const fer_pool *p);
int fer_threads_default(void);

/* ------------------------------------------------------------------- model */

#define FER_N_EMOTIONS 7
/* FER2013 label order: angry disgust fear happy sad surprise neutral. */
extern const char *const fer_emotion_names[FER_N_EMOTIONS];
/* Index of a FER2013 class name (case-insensitive, also "disgusted",
 * "fearful", "surprised"), or -1. */
int fer_emotion_index(const char *name);

typedef struct fer_model fer_model;
typedef struct fer_optim fer_optim;

/* The reference CNN (conv32-conv64-pool-drop-conv128-pool-conv128-pool-drop-
 * dense1024-drop-dense) for `n_classes` classes named by `class_names`
 * (NULL: the first n FER2013 names). Parameters are Glorot-initialised from seed. */
fer_status fer_model_paper_cnn(int n_classes, const char *const *class_names, uint64_t seed,
                               fer_model **out, fer_error *err);
/* Any model from a JSON description (docs/weights-format.md): layers in
 * order, each taking the previous one's output or the ones it names. */
fer_status fer_model_from_json(const char *json, uint64_t seed, fer_model **out, fer_error *err);
void fer_model_free(fer_model *m);
/* A second model with src's architecture and src's parameters and buffers,
 * shared rather than copied (the convolutions' transformed weights too, made
 * in src by this call), and its own activations: one model a thread for
 * inference (fer_model_predict, fer_model_evaluate) at the cost of one.
 * Training it is refused. src must outlive it and not be trained meanwhile,
 * nor run on another thread during this call. */
fer_status fer_model_share(const fer_model *src, fer_model **out, fer_error *err);

/* Several models as one (docs/weights-format.md, "Ensembles"): the members'
 * graphs side by side on the same input, their logits averaged before the
 * softmax (the geometric mean of their probabilities, renormalised). 2..8
 * members with the same input shape and classes, in the same order; their
 * parameters are copied. Saved with fer_model_save, it loads like any model. */
fer_status fer_model_ensemble(const fer_model *const *members, int n, fer_model **out,
                              fer_error *err);

/* Architecture JSON (owned by the model). */
const char *fer_model_arch_json(const fer_model *m);
int fer_model_n_classes(const fer_model *m);
const char *fer_model_class_name(const fer_model *m, int i);
void fer_model_input_shape(const fer_model *m, int *c, int *h, int *w);
size_t fer_model_n_params(const fer_model *m);
/* Threads used by forward/backward (default fer_threads_default()). */
fer_status fer_model_set_threads(fer_model *m, int threads, fer_error *err);

/* Inference (dropout off, batch norm on its running statistics): x is n
 * images of c*h*w floats already normalised with fer_preprocess; probs
 * receives n*n_classes probabilities. */
fer_status fer_model_predict(fer_model *m, const float *x, int n, float *probs, fer_error *err);

/* One training step on a batch: forward with dropout (rng) and batch
 * statistics, softmax cross-entropy with optional per-class weights (NULL:
 * all 1) and the model's label smoothing, backward, the optimiser's update.
 * Returns mean loss and the count of correct argmax. */
fer_status fer_model_train_step(fer_model *m, fer_optim *opt, fer_rng *rng, const float *x,
                                const int *labels, int n, const float *class_weights,
                                float *loss, int *correct, fer_error *err);
/* The same step against soft targets: n rows of n_classes probabilities
 * (e.g. a teacher's mixed with the labels, for distillation); the loss is
 * their cross-entropy (no class weights, no label smoothing). labels (may
 * be NULL) only count the correct argmax. */
fer_status fer_model_train_step_soft(fer_model *m, fer_optim *opt, fer_rng *rng, const float *x,
                                     const float *targets, const int *labels, int n, float *loss,
                                     int *correct, fer_error *err);
/* Label smoothing of the training loss, in [0, 1) (default 0): the target
 * is 1 - s on the label and s / n_classes spread over all classes. */
fer_status fer_model_set_label_smoothing(fer_model *m, float s, fer_error *err);
/* Loss (plain cross-entropy) and probabilities without an update, as
 * fer_model_predict computes them. */
fer_status fer_model_evaluate(fer_model *m, const float *x, const int *labels, int n,
                              float *loss_sum, int *correct, float *probs, fer_error *err);

/* Preprocessing shared by training and prediction: grey uint8 -> float. */
void fer_preprocess(const uint8_t *px, size_t n, float *out);

/* Test-time augmentation: what an emotion prediction averages over. */
typedef enum fer_tta {
    FER_TTA_NONE, /* the crop as it is */
    FER_TTA_FLIP, /* the crop and its left-right mirror image */
    FER_TTA_ZOOM, /* FER_TTA_FLIP of the crop and of it zoomed about its centre by
                     FER_TTA_ZOOM_IN and FER_TTA_ZOOM_OUT: six views, 3x FLIP's cost */
    FER_TTA_PAIR  /* FER_TTA_ZOOM without the crop itself: the two zoomed copies, each as
                     it is and mirrored; four views, 2x FLIP's cost. Every view is
                     resampled, as every training view of fer-train's augmentation is */
} fer_tta;
#define FER_TTA_DEFAULT FER_TTA_PAIR /* the analyzer's and the tools' default */
#define FER_TTA_ZOOM_IN 1.08f
#define FER_TTA_ZOOM_OUT 0.93f
/* Probabilities (n x classes) of n 8-bit grey crops of the model's input
 * size, back to back: fer_preprocess, fer_model_predict, averaged over the
 * augmentation. fer_analyze and fer-eval both predict through this. */
fer_status fer_model_predict_crops(fer_model *m, const uint8_t *crops, int n, fer_tta tta,
                                   float *probs, fer_error *err);

/* ------------------------------------------------------------ augmentation */

/* Keras ImageDataGenerator equivalents, drawn per image from rng. */
typedef struct fer_augment_opts {
    int flip;         /* horizontal flip with probability 1/2 */
    float shift;      /* shift up to this fraction of width and height */
    float rotation;   /* rotation up to this many degrees */
    float zoom;       /* scale in [1 - zoom, 1 + zoom] */
    float brightness; /* grey levels times a factor in [1 - b, 1 + b] */
    float erase;      /* random erasing: with this probability, one rectangle of 2-33% of
                         the image (aspect 1/3..3) becomes uniform noise (0: off; its
                         numbers are drawn only when on, after the others') */
} fer_augment_opts;

/* flip, shift .1, rotation 10, zoom .1, brightness .2, no erasing */
void fer_augment_opts_default(fer_augment_opts *o);
/* A randomly transformed copy of a grey h x w image, already preprocessed
 * (as fer_preprocess); edges are filled with the nearest pixel. */
void fer_augment(const uint8_t *src, int h, int w, const fer_augment_opts *o, fer_rng *rng,
                 float *dst);

/* -------------------------------------------------------------- optimisers */

typedef enum { FER_ADAM, FER_SGD } fer_optim_kind;
typedef struct fer_optim_opts {
    fer_optim_kind kind;
    float lr;           /* (0, 10) */
    float decay;        /* Keras time decay, lr_t = lr / (1 + decay * t): [0, 1000) */
    float momentum;     /* SGD, [0, 1) */
    int nesterov;       /* SGD: Nesterov momentum */
    float weight_decay; /* decoupled (AdamW, SGDW), on weights only: [0, 1) */
} fer_optim_opts;

/* Adam (Keras: beta1 .9, beta2 .999, epsilon 1e-7), lr .001; SGD lr .01,
 * Nesterov momentum .9; no decay nor weight decay. */
void fer_optim_opts_default(fer_optim_opts *o, fer_optim_kind kind);
/* An optimiser for every trainable parameter of m. */
fer_status fer_optim_new(fer_model *m, const fer_optim_opts *o, fer_optim **out, fer_error *err);
void fer_optim_free(fer_optim *o);
/* The base learning rate (schedules set it each epoch or step). */
fer_status fer_optim_set_lr(fer_optim *o, float lr, fer_error *err);
float fer_optim_lr(const fer_optim *o);
int64_t fer_optim_iterations(const fer_optim *o);
void fer_optim_get_opts(const fer_optim *o, fer_optim_opts *out);

/* -------------------------------------------------------- weights format */

/* safetensors file: the model's tensors plus, in __metadata__, the
 * architecture, class names, input shape and preprocessing. With `opt`, the
 * optimiser's state and settings are saved too (a checkpoint), and
 * `extra_meta` (a JSON object text, may be NULL) is stored as "fer.extra".
 * Written to a temporary file and renamed: never half-written. */
fer_status fer_model_save(const fer_model *m, const fer_optim *opt, const char *extra_meta,
                          const char *path, fer_error *err);
/* Loads and validates every offset, size and shape. */
fer_status fer_model_load(const char *path, fer_model **out, fer_error *err);
/* Restores the optimiser saved with fer_model_save; `extra_meta` receives a
 * malloc'd copy of "fer.extra" (or NULL). */
fer_status fer_checkpoint_load(const char *path, fer_model **model, fer_optim **opt,
                               char **extra_meta, fer_error *err);

/* ---------------------------------------------------------------- files */

/* Reads a whole file (at most max_bytes) into a malloc'd, NUL-terminated buffer. */
fer_status fer_file_read(const char *path, size_t max_bytes, char **data, size_t *len,
                         fer_error *err);
/* Writes to a temporary beside path (.NAME.tmp-XXXXXX), fsyncs and renames
 * it over path: a regular file or symlink at path is replaced, never half
 * written. An existing FIFO or character device (/dev/null) is written in
 * place; a directory is refused. */
fer_status fer_file_write_atomic(const char *path, const void *data, size_t len, fer_error *err);

/* Finds a shipped data file by its relative name ("weights/fer-7class.safetensors",
 * "datasets/catalog.csv"): under dir, or, when dir is NULL or "", under the
 * data directory libfer was installed with (PREFIX/share/libfer, fixed when
 * it was built; `pkg-config --variable=datadir libfer`). The library reads no
 * environment: a caller that honours an override such as the tools'
 * FER_DATA_DIR passes it as dir. out receives the path (cap bytes) even when
 * it cannot be read (FER_EIO), so that a message can name it; FER_ERANGE when
 * it does not fit. */
fer_status fer_data_path(const char *dir, const char *name, char *out, size_t cap,
                         fer_error *err);

/* The one number grammar of every libfer file format and tool option: the
 * whole string a plain decimal number ("-1.5", "2e-3", ".5"; no blanks, hex,
 * inf or nan), finite and within [lo, hi]. 1 and *out set, or 0. */
int fer_parse_number(const char *s, double lo, double hi, double *out);
/* An optional '-' and digits only, within [lo, hi]. */
int fer_parse_integer(const char *s, long lo, long hi, long *out);

/* ----------------------------------------------------------- FER2013 data */

enum { FER_USAGE_TRAINING = 0, FER_USAGE_PUBLIC_TEST = 1, FER_USAGE_PRIVATE_TEST = 2,
       FER_USAGE_NONE = 3 };

/* Images held as uint8 48x48 (2304 bytes each). The loaders initialise *ds
 * (no need to zero it first); on failure it is left empty (all NULL / 0). */
typedef struct fer_dataset {
    uint8_t *pixels; /* n * h * w, row-major */
    int *labels;     /* CSV: FER2013 index 0..6; folders: index into class_names */
    uint8_t *usage;  /* FER_USAGE_* per image */
    size_t n, cap;
    int h, w;
    size_t n_bad;        /* rows skipped with skip_bad */
    char first_bad[300]; /* "path:LINE: what" of the first of them, "" when none */
} fer_dataset;

/* Reads the Kaggle CSV (emotion,pixels[,Usage], columns in any order, header
 * names case-insensitive) from a path or "-" (stdin); CRLF, blank lines and
 * quoted fields are accepted; no Usage column gives FER_USAGE_NONE. A bad row
 * is an error "path:LINE: what", unless skip_bad is set: then it is skipped,
 * counted in ds->n_bad, and the first one's message kept in ds->first_bad;
 * err is only written on failure. A missing
 * header or an empty file is always an error. A header with no rows is a
 * valid, empty data set. See docs/dataset.md. */
fer_status fer_dataset_load_csv(const char *path, int skip_bad, fer_dataset *ds, fer_error *err);
/* Reads DIR/<class>/<image> (Keras flow_from_directory layout): a folder
 * named class_names[i] (ignoring case) gives label i; other folders are
 * ignored, no matching folder at all is an error. Files with an image
 * extension, sorted by name within each class, are decoded to grey and
 * area-resized to 48x48; an unreadable image is an error naming the file.
 * usage is FER_USAGE_NONE. See docs/dataset.md. */
fer_status fer_dataset_load_dir(const char *dir, int n_classes, const char *const *class_names,
                                fer_dataset *ds, fer_error *err);
void fer_dataset_free(fer_dataset *ds);

/* Probability files (docs/dataset.md): a CSV with the header
 * "row,hash,<m's class names>" and one line per image: its index in ds, the
 * FNV-1a hash of its pixels (8 hex digits) and its probabilities. Written
 * atomically for the n images rows[] (probs: n x classes); fer-eval --probs
 * writes them. */
fer_status fer_probs_write(const char *path, const fer_dataset *ds, const size_t *rows, size_t n,
                           const float *probs, const fer_model *m, fer_error *err);
/* Reads such a file against ds: *out gets ds->n x classes floats in m's class
 * order (columns found by name), NAN for the images it does not list. A line
 * naming no image of ds, a hash that differs from the image's, a row twice,
 * a value outside 0..1 or probabilities not summing to 1 is an error
 * "path:LINE: what". fer-train --soft-targets trains against them. */
fer_status fer_probs_read(const char *path, const fer_dataset *ds, const fer_model *m, float **out,
                          fer_error *err);

/* ------------------------------------------------------------------ images */

/* Grey 8-bit image. */
typedef struct fer_image {
    int w, h;
    uint8_t *px; /* w*h, row-major, malloc'd */
} fer_image;

/* Decodes any format stb_image reads (8/16-bit, alpha) to grey with the
 * BT.601 weights exactly as OpenCV's cvtColor(BGR2GRAY) rounds them; alpha
 * is ignored. A JPEG's EXIF orientation (all 8 values) is applied: the
 * image is the photo as a viewer shows it. Images of more than max_pixels
 * (0: 64 MP) are refused before decoding (FER_ERANGE); truncated or
 * corrupt files, and headers declaring more pixels than the file's data
 * can hold, are FER_EFORMAT. */
fer_status fer_image_load(const char *path, size_t max_pixels, fer_image *img, fer_error *err);
fer_status fer_image_load_mem(const void *data, size_t len, size_t max_pixels, fer_image *img,
                              fer_error *err);

/* Colour 8-bit image, for drawing on. */
typedef struct fer_rgb_image {
    int w, h;
    uint8_t *px; /* w*h*3, R,G,B, row-major, malloc'd */
} fer_rgb_image;

/* The same photo as fer_image_load (same checks, limits and EXIF
 * orientation) in colour; fer_image_from_pixels(px, w, h, 3, 0,
 * FER_PIXEL_RGB, ...) gives exactly fer_image_load's grey image. */
fer_status fer_image_load_rgb(const char *path, size_t max_pixels, fer_rgb_image *img,
                              fer_error *err);
fer_status fer_image_load_rgb_mem(const void *data, size_t len, size_t max_pixels,
                                  fer_rgb_image *img, fer_error *err);
void fer_rgb_image_free(fer_rgb_image *img);

/* Byte order of colour pixels; alpha, when there are 4 channels, is last
 * and ignored. */
typedef enum fer_pixel_order {
    FER_PIXEL_RGB,              /* R,G,B (FFmpeg's RGB24) */
    FER_PIXEL_BGR,              /* B,G,R (FFmpeg's BGR24, OpenCV's Mat) */
    FER_PIXEL_RGBA = FER_PIXEL_RGB,
    FER_PIXEL_BGRA = FER_PIXEL_BGR
} fer_pixel_order;

/* Grey image from pixels in memory (a video frame, an upload): w x h
 * pixels of `channels` bytes (1 grey, 2 grey + alpha, 3 colour, 4 colour +
 * alpha; colour in `order`), rows `stride` bytes apart (0: w * channels),
 * turned grey exactly as fer_image_load does. w, h > 0, w * h at most
 * 2^31 - 1 (FER_ERANGE); other bad arguments are FER_EINVAL. px is only
 * read; img gets its own copy. */
fer_status fer_image_from_pixels(const uint8_t *px, int w, int h, int channels, size_t stride,
                                 fer_pixel_order order, fer_image *img, fer_error *err);
void fer_image_free(fer_image *img);
/* Area-averaged resize of the box (x,y,w,h), clipped to the image, to ow x oh. */
fer_status fer_image_crop_resize(const fer_image *img, int x, int y, int w, int h, int ow, int oh,
                                 uint8_t *out, fer_error *err);

/* ---------------------------------------------------------- face detection */

typedef struct fer_cascade fer_cascade;
typedef struct fer_box { int x, y, w, h; } fer_box;

/* The crop of a detected face: the box grown by `margin` (a fraction of its
 * size) on each side. Near an edge the margin shrinks on every side alike,
 * so the crop stays centred on the face with the box's proportions. */
fer_box fer_face_crop_box(const fer_image *img, fer_box face, double margin);

typedef struct fer_detect_opts {
    double scale_factor; /* 1.1 */
    int min_neighbors;   /* 3 */
    int min_size;        /* 30 (pixels) */
    int max_size;        /* 0: no limit */
} fer_detect_opts;

#define FER_DEFAULT_CASCADE "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"

void fer_detect_opts_default(fer_detect_opts *o);
/* OpenCV Haar cascade XML (the opencv-data "cascade" format: stumps,
 * trees, tilted features); LBP and pre-2.x files are FER_EUNSUPPORTED. */
fer_status fer_cascade_load(const char *path, fer_cascade **out, fer_error *err);
void fer_cascade_free(fer_cascade *c);
/* Finds faces as OpenCV's detectMultiScale does (same boxes on the same
 * grey image; o NULL: defaults; scale_factor in [1.01, 10]); *boxes is
 * malloc'd (free()), NULL when none, sorted by area, largest first. */
fer_status fer_detect_faces(const fer_cascade *c, const fer_image *img, const fer_detect_opts *o,
                            fer_box **boxes, size_t *n, fer_error *err);
/* Draws each box, with line width and text size that grow with the photo,
 * and its label (labels may be NULL, or hold NULL entries) on a band beside
 * it: above, else below, else inside its top edge, moved to stay inside the
 * image and off the labels drawn before (earlier boxes first: put the one
 * that matters first). Labels are printable ASCII (others drawn as '?'). */
fer_status fer_image_annotate(fer_rgb_image *img, const fer_box *boxes, const char *const *labels,
                              size_t n, fer_error *err);
/* Writes the image atomically as JPEG (quality 90) when the path ends in .jpg
 * or .jpeg (any case), else as PNG. */
fer_status fer_rgb_image_save(const fer_rgb_image *img, const char *path, fer_error *err);

/* -------------------------------------------------------------- heart rate */

typedef enum fer_hr_level { FER_HR_LOW, FER_HR_MODERATE, FER_HR_HIGH } fer_hr_level;

/* Zero-initialised options mean an adult (resting range 60-100 bpm). */
typedef struct fer_hr_opts {
    int age;            /* years, 1..120 (ages < 6 use paediatric ranges); 0: adult */
    double resting_bpm; /* 30..200: range resting-10..resting+30, overriding age; 0: unused */
} fer_hr_opts;

typedef struct fer_heart {
    double bpm;          /* cleaned mean */
    double trend;        /* bpm per minute, 0 for a single value */
    double rmssd_ms;     /* NAN unless RR intervals were given */
    double sdnn_ms;      /* NAN unless RR intervals were given */
    int n_samples, n_removed;
    double rest_lo, rest_hi; /* the resting range used */
    fer_hr_level level;
    double arousal;      /* [0,1] */
} fer_heart;

const char *fer_hr_level_name(fer_hr_level l);
/* A single reading; impossible values (<= 0, > 250, NaN) are FER_ERANGE. */
fer_status fer_heart_from_bpm(double bpm, const fer_hr_opts *o, fer_heart *out, fer_error *err);
/* A series: t in seconds (finite, increasing) and bpm, or (rr != 0) RR
 * intervals in ms (t ignored, may be NULL). Samples outside 30..220 bpm /
 * 300..2000 ms and Hampel outliers are dropped (n_removed); fewer than 3
 * left is FER_ERANGE. */
fer_status fer_heart_from_series(const double *t, const double *v, size_t n, int rr,
                                 const fer_hr_opts *o, fer_heart *out, fer_error *err);
/* CSV file (at most 8 MiB) of "seconds,bpm" or one RR interval (ms) per
 * line; header optional; a single column is RR when headed rr_ms (rr, ibi...)
 * or when its median is > 250. docs/heart-and-fusion.md has the rules. */
fer_status fer_heart_from_file(const char *path, const fer_hr_opts *o, fer_heart *out,
                               fer_error *err);

/* ------------------------------------------------------------------ fusion */

typedef enum fer_intensity { FER_MILDLY, FER_PLAIN, FER_VERY } fer_intensity;

typedef struct fer_fusion_opts {
    double face_weight;  /* weight of the face's own arousal estimate */
    double heart_weight; /* weight of heart-rate arousal (0 when no heart rate) */
} fer_fusion_opts;

typedef struct fer_state {
    int emotion;             /* FER2013 index 0..6 */
    const char *emotion_name;/* "Happy", "Sad", "Angry", "Disgusted", "Fearful", "Surprised", "Neutral" */
    fer_intensity intensity;
    const char *intensity_name; /* "Mildly", "", "Very" */
    const char *arousal_phrase; /* e.g. "excited", "calm" */
    char label[96];          /* e.g. "Happy and excited", "Sad but calm" */
    double confidence;       /* face probability of the chosen emotion */
    double valence;          /* [-1,1] */
    double arousal;          /* [0,1] fused */
} fer_state;

/* face 1, heart 2: heart rate has two thirds of the say on arousal. */
void fer_fusion_opts_default(fer_fusion_opts *o);
/* probs in FER2013 order (7 finite values >= 0 summing to 1 +-0.01, then
 * renormalised); heart may be NULL (face arousal only); o NULL: defaults.
 * The tables are in docs/heart-and-fusion.md. */
fer_status fer_fuse(const float *probs, const fer_heart *heart, const fer_fusion_opts *o,
                    fer_state *out, fer_error *err);
/* The names and the label of a state whose emotion, intensity and arousal
 * are set (a state read back from JSON, say): the words fer_fuse gives. */
fer_status fer_state_describe(fer_state *s, fer_error *err);

/* ----------------------------------------------------------- face analysis */

/* The face pipeline behind fer-predict (docs/face-detection.md, "The
 * analyzer"): Haar proposals on a working copy of bounded size, a verifier CNN
 * that scores each proposal as a face (score in [0, 1]), the emotion CNN on the
 * faces that pass, and the fusion of the chosen face with the heart rate. */
typedef struct fer_analyzer fer_analyzer;

typedef enum fer_face_pick {
    FER_FACE_BEST,   /* highest score, the larger face on a tie */
    FER_FACE_LARGEST /* largest box */
} fer_face_pick;

/* The verifier sees the inside of a proposal: this fraction of its width and
 * height cut off each side (its training crops are cut the same way). */
#define FER_VERIFY_INSET 0.1

typedef struct fer_analyzer_opts {
    const char *emotion_model;  /* weights file (NULL: faces only, no emotion nor state) */
    const char *verifier_model; /* face/non-face weights (required unless no_detect) */
    const char *cascade;        /* NULL: FER_DEFAULT_CASCADE */
    fer_detect_opts detect;     /* proposals: 1.1, 1 neighbour, 24 px (of the working copy) */
    int no_detect;              /* the whole image is one face (a ready crop) */
    double margin;              /* emotion crop margin, fraction of the box (0.1) */
    double min_score;           /* faces scoring below are dropped (0.9) */
    int max_side;               /* detection on a copy with this long side at most (1280; 0: none) */
    double tilt;                /* also search the copy turned by +-tilt degrees, for tilted
                                   heads (25; 0: upright faces only), at scale step >= 1.2 */
    fer_face_pick pick;         /* which face gives the state (FER_FACE_BEST) */
    fer_tta tta;                /* the emotion model's test-time augmentation (FER_TTA_DEFAULT) */
    fer_fusion_opts fusion;     /* fer_fusion_opts_default */
    int threads;                /* CNN threads (0: fer_threads_default()) */
} fer_analyzer_opts;

typedef struct fer_face {
    fer_box box;                 /* in the pixels of the image analysed; for a tilted face,
                                    the upright box of its size around its centre */
    float angle;                 /* degrees the face's crops were turned by (0, +-tilt) */
    float score;                 /* verifier's P(face); 1 with no_detect */
    float probs[FER_N_EMOTIONS]; /* FER2013 order; 0 for classes the model lacks */
    int emotion;                 /* argmax of probs */
} fer_face;

typedef struct fer_faces {
    fer_face *face;    /* n faces, best score first */
    size_t n;
    size_t n_rejected; /* proposals below min_score or overlapping a better face */
    int state_face;    /* the face the state came from, -1 when n == 0 */
    fer_state state;   /* valid when state_face >= 0 */
} fer_faces;

void fer_analyzer_opts_default(fer_analyzer_opts *o);
/* Loads the models and the cascade (o NULL: defaults, which name no model, so
 * that fails); the paths are not kept. */
fer_status fer_analyzer_new(const fer_analyzer_opts *o, fer_analyzer **out, fer_error *err);
void fer_analyzer_free(fer_analyzer *a);
/* Another analyzer over src's models and cascade, shared rather than loaded
 * again (fer_model_share), with its own working memory: one a thread. src
 * must outlive it and not run on another thread during this call. */
fer_status fer_analyzer_share(const fer_analyzer *src, fer_analyzer **out, fer_error *err);
/* The emotion model (class names, input shape); owned by the analyzer. */
const fer_model *fer_analyzer_emotion_model(const fer_analyzer *a);
/* Faces of one grey image (a photo, or a frame from fer_image_from_pixels);
 * heart may be NULL. A photo where no face passes is not an error: out->n
 * is 0 and out->state_face -1. Free out with fer_faces_free. Not thread-safe
 * on one analyzer (it reuses the models' buffers): one analyzer a thread. */
fer_status fer_analyze(fer_analyzer *a, const fer_image *img, const fer_heart *heart,
                       fer_faces *out, fer_error *err);
/* The crop the analyzer feeds a model: f's box grown by `grow` times its size
 * on each side (as fer_face_crop_box grows it), or shrunk when grow < 0 (the
 * verifier's -FER_VERIFY_INSET), cut upright (turned by f->angle) and
 * area-resized to ow x oh. grow in (-0.5, 1]. */
fer_status fer_face_crop(const fer_image *img, const fer_face *f, double grow, int ow, int oh,
                         uint8_t *out, fer_error *err);
/* The index of the face `how` chooses, -1 when there is none. */
int fer_faces_pick(const fer_faces *f, fer_face_pick how);
void fer_faces_free(fer_faces *f);

/* ------------------------------------------------------- live heart rate */

/* A heart-rate sensor read as lines arrive (docs/live.md, "Heart rate, live"):
 * a bpm value ("72"), "seconds,bpm" ("12.5,72"), an RR interval in ms ("812",
 * any value over 250; or "rr 812"), or the bytes of the Bluetooth Heart Rate
 * Measurement characteristic 0x2A37 in hex as BLE tools print them ("16 4a 03
 * 02", "16:4a:..", "0x16 0x4a ..", gatttool's "... value: 16 4a 03 02", or
 * packed "164a0302" when it holds a letter a-f or starts 0x): flags, uint8 or
 * uint16 bpm, sensor contact (a reading without contact is dropped), energy
 * expended (kJ), RR intervals in 1/1024 s. Readings are kept for a rolling
 * window and summarised as fer_heart_from_series cleans a series; a stream
 * whose last reading is older than the timeout has no heart rate. The clock
 * is the caller's (seconds, non-decreasing): the time each line arrived. */
typedef struct fer_hr_stream fer_hr_stream;

typedef struct fer_hr_stream_opts {
    double window;  /* seconds of readings summarised (30) */
    double timeout; /* no reading for this long: no heart rate (5) */
    fer_hr_opts hr; /* resting range */
} fer_hr_stream_opts;

typedef struct fer_hr_stream_stats {
    size_t n_lines;      /* lines seen, blank ones included */
    size_t n_readings;   /* bpm values and RR intervals taken */
    size_t n_bad;        /* garbage lines skipped */
    size_t n_no_contact; /* BLE measurements without skin contact, skipped */
    double last;         /* arrival time of the last reading, NAN before any */
    int energy_kj;       /* last BLE energy expended, -1 when never sent */
    char first_bad[160]; /* why the first garbage line was skipped, "" when none */
} fer_hr_stream_stats;

#define FER_HR_STREAM_MAX_LINE 1024 /* longer lines are garbage */

void fer_hr_stream_opts_default(fer_hr_stream_opts *o);
fer_status fer_hr_stream_new(const fer_hr_stream_opts *o, fer_hr_stream **out, fer_error *err);
void fer_hr_stream_free(fer_hr_stream *s);
/* One line (a trailing "\r\n" or "\n" is ignored) that arrived at `now`.
 * FER_OK: taken, blank, or a BLE reading without contact. Garbage (not one of
 * the formats, an impossible rate, a time that does not increase, a BLE
 * packet of the wrong length) is skipped and counted: FER_EFORMAT or
 * FER_ERANGE with the reason in err. */
fer_status fer_hr_stream_line(fer_hr_stream *s, const char *line, double now, fer_error *err);
/* Bytes as read from a file, FIFO or serial device: complete lines go to
 * fer_hr_stream_line, a partial one waits for the rest (or fer_hr_stream_end).
 * Garbage is counted in the stats (with the first one's reason), never an
 * error: the only errors are the arguments'. */
fer_status fer_hr_stream_feed(fer_hr_stream *s, const void *data, size_t len, double now,
                              fer_error *err);
/* End of input: the partial last line, if any, as a line. */
fer_status fer_hr_stream_end(fer_hr_stream *s, double now, fer_error *err);
/* The heart rate at `now`: *has 1 and out filled from the window's readings
 * (cleaned as a series; with fewer than 3 valid, the last one alone), or
 * *has 0 when there is none or the last is older than the timeout. */
fer_status fer_hr_stream_heart(const fer_hr_stream *s, double now, fer_heart *out, int *has,
                               fer_error *err);
void fer_hr_stream_get_stats(const fer_hr_stream *s, fer_hr_stream_stats *out);

/* -------------------------------------------------------------- live loop */

/* The live loop behind fer-live (docs/live.md): frames in with their time,
 * a smoothed state and its changes out, the same at any frame rate.
 *  - Tracking: a full detection (fer_analyze on the frame) every
 *    detect_every frames; in between, only the region around the last face
 *    (its box grown by search_grow of its size on each side) is searched; a
 *    track lost there gets a full detection on the same frame.
 *  - Smoothing: the chosen face's probabilities are averaged exponentially
 *    with time constant smooth seconds (weight 1 - exp(-dt / smooth) for a
 *    frame dt after the last). No face for reset seconds forgets them.
 *  - Hysteresis: the state fused from the smoothed probabilities (and the
 *    heart rate given with fer_live_set_heart) replaces the state in force
 *    only once it has differed from it for hold seconds with the same
 *    emotion throughout (its words may change meanwhile: the latest win). */
typedef struct fer_live fer_live;

typedef struct fer_live_opts {
    double smooth;      /* time constant, seconds (0.5; 0: no smoothing) */
    double hold;        /* hysteresis, seconds (0.7; 0: none) */
    double reset;       /* seconds without a face that forget the smoothing (3) */
    int detect_every;   /* frames from one full detection to the next (10; 1: every frame) */
    double search_grow; /* tracking region around the last box (0.5) */
    fer_fusion_opts fusion;
} fer_live_opts;

typedef struct fer_live_update {
    double t;           /* the frame's time, seconds */
    fer_faces faces;    /* this frame's faces (owned by the live object, valid until the
                           next frame; faces.state is unused: see state) */
    int face;           /* the face that fed the smoothing, -1: none on this frame */
    int tracked;        /* 1: found near the last box; 0: by a full detection */
    int has_state;      /* 0 until a first face */
    float probs[FER_N_EMOTIONS]; /* smoothed, FER2013 order */
    fer_state state;    /* the state in force (hysteresis applied) */
    int changed;        /* 1: state changed on this frame (the first state too) */
} fer_live_update;

void fer_live_opts_default(fer_live_opts *o);
/* a is borrowed (it must outlive the live object, and needs an emotion model). */
fer_status fer_live_new(fer_analyzer *a, const fer_live_opts *o, fer_live **out, fer_error *err);
void fer_live_free(fer_live *l);
/* The heart rate the following frames are fused with; NULL: none (the face alone). */
void fer_live_set_heart(fer_live *l, const fer_heart *h);
/* One frame: pixels as for fer_image_from_pixels (1 grey ... 4 colour + alpha)
 * at time t seconds (finite, not before the last frame's). */
fer_status fer_live_frame(fer_live *l, const uint8_t *px, int w, int h, int channels,
                          size_t stride, fer_pixel_order order, double t, fer_live_update *out,
                          fer_error *err);
/* The same for a grey image. */
fer_status fer_live_frame_grey(fer_live *l, const fer_image *img, double t, fer_live_update *out,
                               fer_error *err);
/* Frames so far, and how many of them had a full detection. */
void fer_live_counts(const fer_live *l, size_t *frames, size_t *full_detections);

/* --------------------------------------------------------------- catalogue */

typedef struct fer_track {
    const char *genre; /* the track's genres, "a; b" (one or more) */
    const char *artist, *title, *id;
    int popularity; /* 0..100 */
    int duration_ms;    /* 0 when the column is absent */
    int mode;           /* 1 major, 0 minor, -1 unknown */
    int key;            /* pitch class 0 (C) .. 11 (B), -1 unknown */
    int time_signature; /* beats per bar ("4/4", or the data set's "4-Apr"), 0 unknown */
    /* Optional columns that are absent or empty read as NAN. */
    float acousticness, danceability, energy, instrumentalness, liveness, loudness,
          speechiness, tempo, valence;
} fer_track;

typedef struct fer_catalog fer_catalog;

/* CSV with the SpotifyFeatures columns, found by header name in any order
 * (required: track_id, track_name, artist_name, genre or genres, popularity,
 * valence, energy, tempo). The genre field is a list separated by ';' (one
 * genre in SpotifyFeatures; blanks around each trimmed). Bad rows are
 * skipped and counted (*n_bad, may be NULL); fer_catalog_first_bad says
 * which was the first (err is only written on failure). A track listed again
 * (SpotifyFeatures lists it once per genre) is kept once: first row's
 * features, highest popularity, genres joined with "; " in order of
 * appearance, each once (case-insensitively), at most 256. */
fer_status fer_catalog_load(const char *path, fer_catalog **out, size_t *n_bad, fer_error *err);
void fer_catalog_free(fer_catalog *c);
/* "path:LINE: what" of the first row fer_catalog_load skipped, "" when none. */
const char *fer_catalog_first_bad(const fer_catalog *c);
size_t fer_catalog_size(const fer_catalog *c);
const fer_track *fer_catalog_track(const fer_catalog *c, size_t i);
/* Index of the track with this Spotify id, or -1 (hash lookup). */
long fer_catalog_find(const fer_catalog *c, const char *id);
/* 1 if the track's genre list ("A; B") holds `genre` (case-insensitive). */
int fer_track_has_genre(const fer_track *t, const char *genre);
/* The catalogue's distinct genres (case-insensitively; the first spelling
 * seen names one), sorted by name case-insensitively: the name of genre i
 * and in *n_tracks (may be NULL) how many tracks have it; NULL past the end. */
size_t fer_catalog_n_genres(const fer_catalog *c);
const char *fer_catalog_genre(const fer_catalog *c, size_t i, size_t *n_tracks);

/* ---------------------------------------------------------- recommendation */

typedef enum fer_strategy { FER_STRATEGY_MATCH, FER_STRATEGY_UPLIFT } fer_strategy;

typedef struct fer_music_target {
    double valence, energy, tempo, danceability, acousticness;
    double tol_valence, tol_energy, tol_tempo; /* tolerance band */
} fer_music_target;

typedef struct fer_rank_opts {
    size_t limit;           /* 10 (1..10000) */
    int one_per_artist;     /* 1 */
    const char *genre;      /* NULL: any; else one genre or several, "rock,jazz": any of them */
    uint64_t seed;          /* tie-breaking */
    double popularity_weight; /* 0..1, default 0.15 */
    /* 0..1, default 0.2: a genre (other than those asked for) fills at most
     * this share of the list (at least 1 track) while other tracks are left;
     * 1: no limit. */
    double genre_share;
} fer_rank_opts;

/* The documented table (docs/recommend.md): match finds music that fits the
 * state, uplift music that moves it towards calm and positive; heart may be
 * NULL. Uses s->emotion, s->intensity and s->arousal (fused, [0,1]). */
fer_status fer_music_target_for(const fer_state *s, const fer_heart *heart, fer_strategy st,
                                fer_music_target *out, fer_error *err);
/* The ranking's options, for every music source (fer_music_recommend). */
void fer_rank_opts_default(fer_rank_opts *o);
/* Weighted RMS of the feature differences, each divided by its tolerance
 * (1: on average at the edge of the band); NAN optional features are skipped. */
double fer_music_distance(const fer_music_target *t, const fer_track *tr);
/* (1 - w) * exp(-distance^2 / 2) + w * popularity / 100; distance may be NULL. */
double fer_music_score(const fer_music_target *t, const fer_track *tr, double popularity_weight,
                       double *distance);

/* ----------------------------------------------------------------- Spotify */

typedef struct fer_spotify fer_spotify;

/* api_url / accounts_url NULL or "": Spotify's own (fer-recommend passes
 * FER_SPOTIFY_API_URL / FER_SPOTIFY_ACCOUNTS_URL). A URL is scheme://host[:port][/path]
 * (no user, password, query or fragment), the host as libcurl parses it:
 * http:// only to localhost, 127.0.0.0/8 or [::1] (a test server); anything
 * else must be https://, with TLS verification always on. The secret is never
 * printed or logged, nor is anything of it that the server echoes. */
fer_status fer_spotify_new(const char *client_id, const char *client_secret, const char *api_url,
                           const char *accounts_url, fer_spotify **out, fer_error *err);
void fer_spotify_free(fer_spotify *s);

typedef struct fer_spotify_opts {
    long connect_timeout_ms; /* 5000 */
    long timeout_ms;         /* 15000, whole request */
    int max_retries;         /* 3: retries after a 5xx or a timeout */
    long backoff_ms;         /* 500: first retry delay, doubled each time (<= 1 day) */
    long max_wait_ms;        /* 30000: total sleep on Retry-After and backoff (<= 1 day) */
    size_t max_body;         /* 4 MiB: larger responses are refused */
} fer_spotify_opts;

void fer_spotify_opts_default(fer_spotify_opts *o);
fer_status fer_spotify_set_opts(fer_spotify *s, const fer_spotify_opts *o, fer_error *err);

/* ----------------------------------------------------------- music sources */

/* A recommended song, whichever source found it. `track` is what is known of
 * it, as the catalogue describes a track: a Spotify track the catalogue does
 * not know has NAN audio features (key and mode -1, duration and time
 * signature 0), popularity -1 when Spotify did not report it, and as genres
 * those asked for ("" for none). Its strings belong to the playlist. */
typedef struct fer_song {
    fer_track track;
    const char *url;  /* where to listen: https://open.spotify.com/track/ID */
    double score;     /* higher is better: fer_music_score, popularity / 100 without features */
    double distance;  /* fer_music_distance to the target; NAN without audio features */
    int in_band;      /* 1: valence, energy and tempo all within the target's tolerance */
    /* Why it fits, one line: "valence 0.27 (+0.05) energy 0.33 (+0.04)  72 BPM (-3) ✓"
     * (the track's value and its difference to the target, ✓ in band), or
     * "no audio features known; popularity 80". */
    const char *why;
} fer_song;

typedef struct fer_playlist {
    fer_song *songs; /* best first */
    size_t n;
    /* What answered: "offline", "spotify-recommendations", "spotify-search" */
    const char *source;
} fer_playlist;

void fer_playlist_free(fer_playlist *p); /* empties it; NULL accepted */

/* Where songs come from: one call for every source, so that a tool asks the
 * offline catalogue and Spotify alike (docs/recommend.md, "Music sources"). */
typedef struct fer_music_source fer_music_source;

/* The offline catalogue, ranked (docs/recommend.md, "Ranking"): every field
 * of fer_rank_opts applies; a genre asked for that c does not have is
 * FER_EINVAL, the message naming the nearest ones with their track counts.
 * c is borrowed (it must outlive the source) and only read: the source may
 * serve several threads at once. */
fer_status fer_music_source_catalog(const fer_catalog *c, fer_music_source **out, fer_error *err);
/* The Spotify Web API through client s: a client-credentials token (cached
 * until it expires, renewed once on 401), then GET /v1/recommendations with
 * seed genres and target_* features; on 403/404 (closed to new apps since
 * November 2024) GET /v1/search for a genre/mood query, ranked with
 * `features` (may be NULL) where that catalogue knows the track, else by
 * popularity. 429 waits Retry-After, 5xx and timeouts retry with backoff,
 * both within the client's max_wait_ms. At most 100 tracks are read from one
 * response, repeated ids once. Of fer_rank_opts: limit (1..50), genre (seed
 * genres, several separated by commas; a search filters by the first) and
 * popularity_weight (the search's re-ranking) apply; one_per_artist, seed and
 * genre_share do not. s and features are borrowed; like s, the source is for
 * one thread at a time. */
fer_status fer_music_source_spotify(fer_spotify *s, const fer_catalog *features,
                                    fer_music_source **out, fer_error *err);
const char *fer_music_source_name(const fer_music_source *src); /* "offline", "spotify" */
/* At most o->limit songs for target t, best first, into *out (emptied
 * first, and empty again on failure); free it with fer_playlist_free. */
fer_status fer_music_recommend(fer_music_source *src, const fer_music_target *t,
                               const fer_rank_opts *o, fer_playlist *out, fer_error *err);
void fer_music_source_free(fer_music_source *src);

#ifdef __cplusplus
}
#endif
#endif
