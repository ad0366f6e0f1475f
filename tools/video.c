/* fer-live's frames from FFmpeg (video.h). */
#include "video.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <time.h>
#include <libavcodec/avcodec.h>
#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One converted frame. */
typedef struct buffers {
    uint8_t *grey, *rgb;
    double t;
} buffers;

struct video {
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *frame;
    struct SwsContext *to_grey, *to_rgb;
    int stream, want_rgb, camera, draining, ended;
    int w, h;
    double tb, first, last_t, rate;
    buffers cur;
    /* a camera: the reader thread's frame, the newest one waiting, its state */
    pthread_t thread;
    int threaded;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    buffers work, box;
    int box_full, stop, thread_done, thread_rc;
    char thread_why[256];
    size_t dropped;
    const volatile sig_atomic_t *interrupt;
};

static void averr(int e, const char *what, char *why, size_t cap)
{
    char buf[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(e, buf, sizeof buf);
    snprintf(why, cap, "%s: %s", what, buf);
}

static int alloc_buffers(buffers *b, int w, int h, int rgb)
{
    b->grey = malloc((size_t)w * (size_t)h);
    b->rgb = rgb ? malloc((size_t)w * (size_t)h * 3) : NULL;
    return b->grey && (!rgb || b->rgb);
}

static void free_buffers(buffers *b)
{
    free(b->grey);
    free(b->rgb);
    b->grey = b->rgb = NULL;
}

static int is_camera_path(const char *s)
{
    struct stat st;
    return !strncmp(s, "/dev/video", 10) || (stat(s, &st) == 0 && S_ISCHR(st.st_mode));
}

static int open_input(video *v, const char *source, char *why, size_t cap)
{
    const AVInputFormat *in = NULL;
    const char *url = source;
    AVDictionary *opts = NULL;
    if (!strcmp(source, "-")) {
        url = "pipe:0";
    } else if (is_camera_path(source)) {
        avdevice_register_all();
        in = av_find_input_format("v4l2");
        v->camera = 1;
        if (access(source, F_OK) != 0)
            return snprintf(why, cap, "camera %s: %s", source, strerror(errno)), 0;
        if (!in)
            return snprintf(why, cap, "camera %s: this FFmpeg has no V4L2 input", source), 0;
    } else {
        struct stat st;
        if (stat(source, &st) != 0)
            return snprintf(why, cap, "%s: %s", source, strerror(errno)), 0;
        if (S_ISDIR(st.st_mode))
            return snprintf(why, cap, "%s: is a directory", source), 0;
        if (S_ISREG(st.st_mode) && st.st_size == 0)
            return snprintf(why, cap, "%s: empty file", source), 0;
    }
    int e = avformat_open_input(&v->fmt, url, in, &opts);
    av_dict_free(&opts);
    if (e < 0) {
        char what[512];
        snprintf(what, sizeof what, "%s%s", v->camera ? "camera " : "",
                 !strcmp(source, "-") ? "standard input" : source);
        if (v->camera && e == AVERROR(EBUSY))
            return snprintf(why, cap, "%s: busy (another program is using it)", what), 0;
        averr(e, what, why, cap);
        return 0;
    }
    return 1;
}

static int open_decoder(video *v, const char *name, char *why, size_t cap)
{
    int e = avformat_find_stream_info(v->fmt, NULL);
    if (e < 0)
        return averr(e, name, why, cap), 0;
    v->stream = av_find_best_stream(v->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (v->stream < 0)
        return snprintf(why, cap, "%s: no video stream", name), 0;
    AVStream *st = v->fmt->streams[v->stream];
    const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
    if (!codec)
        return snprintf(why, cap, "%s: unknown video codec (%s)", name,
                        avcodec_get_name(st->codecpar->codec_id)), 0;
    v->dec = avcodec_alloc_context3(codec);
    if (!v->dec)
        return snprintf(why, cap, "out of memory"), 0;
    if ((e = avcodec_parameters_to_context(v->dec, st->codecpar)) < 0)
        return averr(e, name, why, cap), 0;
    v->dec->thread_count = 1;
    v->dec->err_recognition |= AV_EF_EXPLODE; /* a corrupt packet is an error, not concealed */
    if ((e = avcodec_open2(v->dec, codec, NULL)) < 0)
        return averr(e, name, why, cap), 0;
    if (v->dec->width <= 0 || v->dec->height <= 0)
        return snprintf(why, cap, "%s: the video has no frame size", name), 0;
    v->tb = av_q2d(st->time_base);
    AVRational r = av_guess_frame_rate(v->fmt, st, NULL);
    v->rate = r.num > 0 && r.den > 0 ? av_q2d(r) : 0;
    v->pkt = av_packet_alloc();
    v->frame = av_frame_alloc();
    if (!v->pkt || !v->frame)
        return snprintf(why, cap, "out of memory"), 0;
    return 1;
}

/* Decodes the next frame into v->frame: 1, 0 at the end, -1 on an error. */
static int decode_next(video *v, char *why, size_t cap)
{
    for (;;) {
        int e = avcodec_receive_frame(v->dec, v->frame);
        if (e == 0)
            return 1;
        if (e == AVERROR_EOF)
            return 0;
        if (e != AVERROR(EAGAIN))
            return averr(e, "decoding", why, cap), -1;
        if (v->draining)
            return 0;
        e = av_read_frame(v->fmt, v->pkt);
        if (e == AVERROR_EOF || (e < 0 && avio_feof(v->fmt->pb) && !v->fmt->pb->error)) {
            v->draining = 1;
            avcodec_send_packet(v->dec, NULL);
            continue;
        }
        if (e < 0)
            return averr(e, "reading", why, cap), -1;
        if (v->pkt->stream_index == v->stream) {
            e = avcodec_send_packet(v->dec, v->pkt);
            if (e < 0 && e != AVERROR(EAGAIN)) {
                av_packet_unref(v->pkt);
                return averr(e, "decoding", why, cap), -1;
            }
        }
        av_packet_unref(v->pkt);
    }
}

/* v->frame into b (grey, and RGB when asked), with its time. */
static int convert(video *v, buffers *b, char *why, size_t cap)
{
    AVFrame *f = v->frame;
    if (f->width != v->w || f->height != v->h)
        return snprintf(why, cap, "the frame size changed from %dx%d to %dx%d", v->w, v->h,
                        f->width, f->height), 0;
    v->to_grey = sws_getCachedContext(v->to_grey, f->width, f->height, f->format, v->w, v->h,
                                      AV_PIX_FMT_GRAY8, SWS_POINT, NULL, NULL, NULL);
    if (v->want_rgb)
        v->to_rgb = sws_getCachedContext(v->to_rgb, f->width, f->height, f->format, v->w, v->h,
                                         AV_PIX_FMT_RGB24, SWS_POINT, NULL, NULL, NULL);
    if (!v->to_grey || (v->want_rgb && !v->to_rgb))
        return snprintf(why, cap, "cannot convert frames of pixel format %s",
                        av_get_pix_fmt_name(f->format) ? av_get_pix_fmt_name(f->format) : "?"), 0;
    uint8_t *dst[4] = {b->grey};
    int ls[4] = {v->w};
    sws_scale(v->to_grey, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, ls);
    if (v->want_rgb) {
        dst[0] = b->rgb;
        ls[0] = 3 * v->w;
        sws_scale(v->to_rgb, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, ls);
    }
    int64_t pts = f->best_effort_timestamp;
    double t;
    if (pts == AV_NOPTS_VALUE)
        t = v->last_t + (v->rate > 0 ? 1 / v->rate : 0.04);
    else
        t = pts * v->tb;
    if (isnan(v->first))
        v->first = t;
    t -= v->first;
    if (t < v->last_t) /* times never go back */
        t = v->last_t;
    v->last_t = t;
    b->t = t;
    av_frame_unref(f);
    return 1;
}

/* ------------------------------------------------------------ a camera */

static void *camera_thread(void *arg)
{
    video *v = arg;
    char why[256] = "";
    int rc = 0;
    for (;;) {
        pthread_mutex_lock(&v->mu);
        int stop = v->stop;
        pthread_mutex_unlock(&v->mu);
        if (stop)
            break;
        rc = decode_next(v, why, sizeof why);
        if (rc > 0 && !convert(v, &v->work, why, sizeof why))
            rc = -1;
        if (rc <= 0)
            break;
        pthread_mutex_lock(&v->mu);
        buffers b = v->box; /* the newest frame replaces one not yet taken */
        v->box = v->work;
        v->work = b;
        v->dropped += v->box_full;
        v->box_full = 1;
        pthread_cond_signal(&v->cv);
        pthread_mutex_unlock(&v->mu);
    }
    pthread_mutex_lock(&v->mu);
    v->thread_done = 1;
    v->thread_rc = rc < 0 ? -1 : 0;
    snprintf(v->thread_why, sizeof v->thread_why, "%s", why);
    pthread_cond_signal(&v->cv);
    pthread_mutex_unlock(&v->mu);
    return NULL;
}

int video_open(const char *source, int want_rgb, const volatile sig_atomic_t *interrupt,
               video **out, char *why, size_t cap)
{
    *out = NULL;
    av_log_set_level(AV_LOG_QUIET); /* errors come back as one line, ours */
    video *v = calloc(1, sizeof *v);
    if (!v)
        return snprintf(why, cap, "out of memory"), 0;
    v->want_rgb = want_rgb;
    v->interrupt = interrupt;
    v->first = NAN;
    pthread_mutex_init(&v->mu, NULL);
    pthread_cond_init(&v->cv, NULL);
    const char *name = !strcmp(source, "-") ? "standard input" : source;
    if (!open_input(v, source, why, cap) || !open_decoder(v, name, why, cap)) {
        video_close(v);
        return 0;
    }
    v->w = v->dec->width;
    v->h = v->dec->height;
    int ok = alloc_buffers(&v->cur, v->w, v->h, want_rgb);
    if (ok && v->camera)
        ok = alloc_buffers(&v->work, v->w, v->h, want_rgb) &&
             alloc_buffers(&v->box, v->w, v->h, want_rgb);
    if (!ok) {
        snprintf(why, cap, "out of memory for %dx%d frames", v->w, v->h);
        video_close(v);
        return 0;
    }
    if (v->camera) {
        if (pthread_create(&v->thread, NULL, camera_thread, v) != 0) {
            snprintf(why, cap, "cannot start the camera thread");
            video_close(v);
            return 0;
        }
        v->threaded = 1;
    }
    *out = v;
    return 1;
}

int video_next(video *v, video_frame *f, char *why, size_t cap)
{
    if (v->ended)
        return 0;
    int rc = 1;
    if (!v->camera) {
        rc = decode_next(v, why, cap);
        if (rc > 0 && !convert(v, &v->cur, why, cap))
            rc = -1;
    } else {
        pthread_mutex_lock(&v->mu);
        while (!v->box_full && !v->thread_done && !(v->interrupt && *v->interrupt)) {
            struct timespec ts; /* wakes to look at the interrupt flag */
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100000000;
            ts.tv_sec += ts.tv_nsec / 1000000000;
            ts.tv_nsec %= 1000000000;
            pthread_cond_timedwait(&v->cv, &v->mu, &ts);
        }
        if (v->box_full) {
            buffers b = v->cur;
            v->cur = v->box;
            v->box = b;
            v->box_full = 0;
        } else {
            rc = v->thread_done ? v->thread_rc : 0;
            if (rc < 0)
                snprintf(why, cap, "%s", v->thread_why);
        }
        pthread_mutex_unlock(&v->mu);
    }
    if (rc <= 0) {
        v->ended = 1;
        return rc;
    }
    *f = (video_frame){v->w, v->h, v->cur.grey, v->cur.rgb, v->cur.t};
    return 1;
}

int video_is_camera(const video *v) { return v->camera; }
double video_rate(const video *v) { return v->rate; }

size_t video_dropped(const video *v)
{
    video *m = (video *)v;
    pthread_mutex_lock(&m->mu);
    size_t n = m->dropped;
    pthread_mutex_unlock(&m->mu);
    return n;
}

void video_close(video *v)
{
    if (!v)
        return;
    if (v->threaded) {
        pthread_mutex_lock(&v->mu);
        v->stop = 1;
        pthread_mutex_unlock(&v->mu);
        pthread_join(v->thread, NULL);
    }
    sws_freeContext(v->to_grey);
    sws_freeContext(v->to_rgb);
    av_frame_free(&v->frame);
    av_packet_free(&v->pkt);
    avcodec_free_context(&v->dec);
    avformat_close_input(&v->fmt);
    free_buffers(&v->cur);
    free_buffers(&v->work);
    free_buffers(&v->box);
    pthread_mutex_destroy(&v->mu);
    pthread_cond_destroy(&v->cv);
    free(v);
}

/* ------------------------------------------------------------ the writer */

struct video_writer {
    AVFormatContext *fmt;
    AVCodecContext *enc;
    AVStream *st;
    AVFrame *frame;
    AVPacket *pkt;
    struct SwsContext *sws;
    char *path, *tmp;
    int w, h, header, opened;
    int64_t next_pts;
};

static int write_packets(video_writer *vw, char *why, size_t cap)
{
    for (;;) {
        int e = avcodec_receive_packet(vw->enc, vw->pkt);
        if (e == AVERROR(EAGAIN) || e == AVERROR_EOF)
            return 1;
        if (e < 0)
            return averr(e, "encoding", why, cap), 0;
        if (vw->pkt->duration <= 0) /* the muxer's edit list would cut a last frame without one */
            vw->pkt->duration = av_rescale_q(1, av_inv_q(vw->enc->framerate), vw->enc->time_base);
        av_packet_rescale_ts(vw->pkt, vw->enc->time_base, vw->st->time_base);
        vw->pkt->stream_index = vw->st->index;
        e = av_interleaved_write_frame(vw->fmt, vw->pkt);
        if (e < 0)
            return averr(e, vw->path, why, cap), 0;
    }
}

int video_writer_open(const char *path, int w, int h, double fps, video_writer **out, char *why,
                      size_t cap)
{
    *out = NULL;
    video_writer *vw = calloc(1, sizeof *vw);
    if (!vw)
        return snprintf(why, cap, "out of memory"), 0;
    vw->w = w;
    vw->h = h;
    vw->path = strdup(path);
    size_t n = strlen(path) + 32;
    vw->tmp = malloc(n);
    if (!vw->path || !vw->tmp) {
        video_writer_finish(vw, 0, why, cap);
        return snprintf(why, cap, "out of memory"), 0;
    }
    snprintf(vw->tmp, n, "%s.tmp-%ld", path, (long)getpid());
    int e = avformat_alloc_output_context2(&vw->fmt, NULL, NULL, path);
    if (e < 0 || !vw->fmt) {
        video_writer_finish(vw, 0, why, cap);
        return snprintf(why, cap, "%s: no video format for this file name (use .mp4, .mkv or .avi)",
                        path), 0;
    }
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    if (!codec || avformat_query_codec(vw->fmt->oformat, codec->id, FF_COMPLIANCE_NORMAL) != 1)
        codec = avcodec_find_encoder(AV_CODEC_ID_MPEG4);
    if (!codec || !(vw->enc = avcodec_alloc_context3(codec)) ||
        !(vw->st = avformat_new_stream(vw->fmt, NULL)) || !(vw->frame = av_frame_alloc()) ||
        !(vw->pkt = av_packet_alloc())) {
        video_writer_finish(vw, 0, why, cap);
        return snprintf(why, cap, "%s: no H.264 or MPEG-4 encoder", path), 0;
    }
    int den = fps > 0 && fps < 1000 ? (int)(fps * 1000 + 0.5) : 25000;
    vw->enc->width = w & ~1;
    vw->enc->height = h & ~1;
    vw->enc->pix_fmt = AV_PIX_FMT_YUV420P;
    vw->enc->time_base = (AVRational){1, 1000}; /* milliseconds: the frames' own times */
    vw->enc->framerate = (AVRational){den, 1000};
    vw->enc->thread_count = 1;
    vw->enc->max_b_frames = 0; /* no reordering: every frame comes back out, in order */
    if (codec->id == AV_CODEC_ID_MPEG4)
        vw->enc->bit_rate = 2000000;
    else
        av_opt_set(vw->enc->priv_data, "preset", "veryfast", 0);
    if (vw->fmt->oformat->flags & AVFMT_GLOBALHEADER)
        vw->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if ((e = avcodec_open2(vw->enc, codec, NULL)) < 0 ||
        (e = avcodec_parameters_from_context(vw->st->codecpar, vw->enc)) < 0) {
        averr(e, path, why, cap);
        video_writer_finish(vw, 0, why, cap);
        return 0;
    }
    vw->st->time_base = vw->enc->time_base;
    vw->frame->format = AV_PIX_FMT_YUV420P;
    vw->frame->width = vw->enc->width;
    vw->frame->height = vw->enc->height;
    if ((e = av_frame_get_buffer(vw->frame, 0)) < 0 ||
        (e = avio_open(&vw->fmt->pb, vw->tmp, AVIO_FLAG_WRITE)) < 0 ||
        !(vw->opened = 1) || (e = avformat_write_header(vw->fmt, NULL)) < 0) {
        averr(e, path, why, cap);
        video_writer_finish(vw, 0, why, cap);
        return 0;
    }
    vw->header = 1;
    vw->next_pts = 0;
    *out = vw;
    return 1;
}

int video_writer_frame(video_writer *vw, const uint8_t *rgb, double t, char *why, size_t cap)
{
    vw->sws = sws_getCachedContext(vw->sws, vw->w, vw->h, AV_PIX_FMT_RGB24, vw->enc->width,
                                   vw->enc->height, AV_PIX_FMT_YUV420P, SWS_BILINEAR, NULL, NULL,
                                   NULL);
    int e = av_frame_make_writable(vw->frame);
    if (!vw->sws || e < 0)
        return snprintf(why, cap, "%s: cannot convert the frame", vw->path), 0;
    const uint8_t *src[4] = {rgb};
    int ls[4] = {3 * vw->w};
    sws_scale(vw->sws, src, ls, 0, vw->h, vw->frame->data, vw->frame->linesize);
    int64_t pts = (int64_t)(t * 1000 + 0.5);
    vw->frame->pts = pts < vw->next_pts ? vw->next_pts : pts; /* strictly increasing */
    vw->next_pts = vw->frame->pts + 1;
    if ((e = avcodec_send_frame(vw->enc, vw->frame)) < 0)
        return averr(e, "encoding", why, cap), 0;
    return write_packets(vw, why, cap);
}

int video_writer_finish(video_writer *vw, int ok, char *why, size_t cap)
{
    if (!vw)
        return ok;
    if (ok && vw->enc && vw->header) {
        avcodec_send_frame(vw->enc, NULL);
        ok = write_packets(vw, why, cap);
        int e = ok ? av_write_trailer(vw->fmt) : 0;
        if (e < 0)
            ok = 0, averr(e, vw->path, why, cap);
    }
    if (vw->fmt && vw->fmt->pb) {
        int e = avio_closep(&vw->fmt->pb);
        if (e < 0 && ok)
            ok = 0, averr(e, vw->path, why, cap);
    }
    if (vw->tmp && vw->opened) {
        if (ok && rename(vw->tmp, vw->path) != 0)
            ok = 0, snprintf(why, cap, "%s: %s", vw->path, strerror(errno));
        if (!ok)
            unlink(vw->tmp);
    }
    sws_freeContext(vw->sws);
    av_frame_free(&vw->frame);
    av_packet_free(&vw->pkt);
    avcodec_free_context(&vw->enc);
    avformat_free_context(vw->fmt);
    free(vw->path);
    free(vw->tmp);
    free(vw);
    return ok;
}
