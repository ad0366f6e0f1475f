// Reference face detector for bench/faces (never part of libfer): dlib's
// HOG + linear SVM frontal face detector (get_frontal_face_detector), run as
// dlib's own examples and face_recognition's "upsample 1" do: the photo is
// enlarged 2x once with pyramid_up and the boxes are mapped back.
//
//   build/bench/dlib_hog PHOTO...
//
// prints one JSON line per photo:
//   {"photo":"PATH","width":W,"height":H,"boxes":[[x,y,w,h],...],"scores":[...],
//    "ms":T,"cpu_ms":C}
// boxes in the photo's pixels, in dlib's order (best score first); ms is the
// wall-clock time of pyramid_up + detection only (not decoding), cpu_ms the
// CPU time of this (only) thread over the same span. A photo that
// cannot be read gives {"photo":"PATH","error":"..."} and exit status 1 at the
// end. Built by `make bench-faces` (Makefile) against Debian's libdlib-dev.
#include <dlib/image_io.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_transforms.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

static double thread_cpu_ms()
{
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static std::string json_string(const std::string &s)
{
    std::string o = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            o += '\\';
            o += (char)c;
        } else if (c < 0x20) {
            char b[8];
            std::snprintf(b, sizeof b, "\\u%04x", c);
            o += b;
        } else {
            o += (char)c;
        }
    }
    return o + "\"";
}

int main(int argc, char **argv)
{
    if (argc < 2 || std::string(argv[1]) == "--help") {
        std::fprintf(argc < 2 ? stderr : stdout,
                     "usage: dlib_hog PHOTO...\n"
                     "dlib frontal_face_detector (HOG), upsampled once; one JSON line per photo\n");
        return argc < 2 ? 2 : 0;
    }
    dlib::frontal_face_detector detector = dlib::get_frontal_face_detector();
    int status = 0;
    for (int i = 1; i < argc; i++) {
        dlib::array2d<dlib::rgb_pixel> img;
        try {
            dlib::load_image(img, argv[i]);
        } catch (const std::exception &e) {
            std::string msg = e.what();
            while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' '))
                msg.pop_back();
            std::printf("{\"photo\":%s,\"error\":%s}\n", json_string(argv[i]).c_str(),
                        json_string(msg).c_str());
            std::fflush(stdout);
            status = 1;
            continue;
        }
        const long w = img.nc(), h = img.nr();
        auto t0 = std::chrono::steady_clock::now();
        double c0 = thread_cpu_ms();
        dlib::pyramid_down<2> pyr;
        dlib::array2d<dlib::rgb_pixel> up;
        dlib::pyramid_up(img, up, pyr);
        std::vector<std::pair<double, dlib::rectangle>> dets;
        detector(up, dets);
        double cpu = thread_cpu_ms() - c0;
        auto t1 = std::chrono::steady_clock::now();
        double ms = std::chrono::duration<double, std::milli>(t1 - t0).count();

        std::string out = "{\"photo\":" + json_string(argv[i]) + ",\"width\":" +
                          std::to_string(w) + ",\"height\":" + std::to_string(h) +
                          ",\"boxes\":[";
        std::string scores = "[";
        for (size_t k = 0; k < dets.size(); k++) {
            // back to the original image (what dlib's Python API does with upsample 1)
            dlib::rectangle r = pyr.rect_down(dets[k].second);
            char b[96];
            std::snprintf(b, sizeof b, "%s[%ld,%ld,%ld,%ld]", k ? "," : "", r.left(),
                          r.top(), r.width(), r.height());
            out += b;
            std::snprintf(b, sizeof b, "%s%.4f", k ? "," : "", dets[k].first);
            scores += b;
        }
        char tail[96];
        std::snprintf(tail, sizeof tail, "],\"ms\":%.2f,\"cpu_ms\":%.2f}", ms, cpu);
        out += "],\"scores\":" + scores + tail;
        std::printf("%s\n", out.c_str());
        std::fflush(stdout);
    }
    return status;
}
