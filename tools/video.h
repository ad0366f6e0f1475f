/* fer-live's video side on FFmpeg's libraries (libavformat, libavcodec,
 * libavdevice, libswscale): frames of a file, a V4L2 camera or a stream on
 * stdin as grey (and, when asked, RGB) buffers with their time, and the
 * annotated copy written as a video. The only code that links FFmpeg;
 * libfer does not. */
#ifndef FER_VIDEO_H
#define FER_VIDEO_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

typedef struct video video;

typedef struct video_frame {
    int w, h;
    const uint8_t *grey; /* w*h, rows w bytes apart */
    const uint8_t *rgb;  /* w*h*3 when asked for, else NULL */
    double t;            /* seconds from the first frame */
} video_frame;

/* source: a file, "-" (stdin) or a camera (/dev/video*: V4L2). A camera is
 * read by a thread that keeps only the newest frame: frames the caller is
 * too slow for are dropped, never queued. 0 with the reason in why. */
int video_open(const char *source, int want_rgb, const volatile sig_atomic_t *interrupt,
               video **out, char *why, size_t cap);
/* 1: *f holds the next frame (valid until the next call); 0: the end (or,
 * for a camera, *interrupt set while waiting); -1: a read or decode error,
 * the reason in why. */
int video_next(video *v, video_frame *f, char *why, size_t cap);
int video_is_camera(const video *v);
double video_rate(const video *v); /* frames a second the source declares, 0 unknown */
size_t video_dropped(const video *v);
void video_close(video *v);

/* The annotated video: RGB frames in, an H.264 (or MPEG-4 part 2) file out,
 * written under a temporary name and renamed at video_writer_finish (so
 * nothing is left half-written). */
typedef struct video_writer video_writer;
int video_writer_open(const char *path, int w, int h, double fps, video_writer **out, char *why,
                      size_t cap);
int video_writer_frame(video_writer *vw, const uint8_t *rgb, double t, char *why, size_t cap);
/* ok 1: the file is completed and renamed into place; 0: the temporary is removed. */
int video_writer_finish(video_writer *vw, int ok, char *why, size_t cap);

#endif
