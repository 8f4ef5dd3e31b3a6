#include "plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A 3x5 pixel font for the characters titles and numbers need. */
static const struct {
    char c;
    unsigned short bits; /* 15 bits, row-major, top row first */
} font[] = {
    {'0', 0x7B6F}, {'1', 0x2C97}, {'2', 0x73E7}, {'3', 0x72CF}, {'4', 0x5BC9}, {'5', 0x79CF},
    {'6', 0x79EF}, {'7', 0x7292}, {'8', 0x7BEF}, {'9', 0x7BCF}, {'.', 0x0002}, {'-', 0x01C0},
    {'+', 0x05D0}, {':', 0x0410}, {' ', 0x0000}, {'_', 0x0007}, {'/', 0x12A4}, {'=', 0x0E38},
    {'a', 0x2BED}, {'b', 0x6BAE}, {'c', 0x3923}, {'d', 0x6B6E}, {'e', 0x79A7}, {'f', 0x79A4},
    {'g', 0x396B}, {'h', 0x5BED}, {'i', 0x7497}, {'j', 0x126A}, {'k', 0x5BAD}, {'l', 0x4927},
    {'m', 0x5FED}, {'n', 0x6B6D}, {'o', 0x2B6A}, {'p', 0x6BA4}, {'q', 0x2B73}, {'r', 0x6BAD},
    {'s', 0x388E}, {'t', 0x7492}, {'u', 0x5B6F}, {'v', 0x5B6A}, {'w', 0x5BFD}, {'x', 0x5AAD},
    {'y', 0x5A92}, {'z', 0x72A7},
};

static void put(unsigned char *img, size_t w, size_t h, long x, long y, unsigned char v)
{
    if (x >= 0 && y >= 0 && (size_t)x < w && (size_t)y < h) img[(size_t)y * w + (size_t)x] = v;
}

static void text(unsigned char *img, size_t w, size_t h, long x, long y, const char *s, int scale)
{
    for (; *s; s++, x += 4 * scale) {
        char c = *s;
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        unsigned short bits = 0x7FFF; /* unknown: a box */
        for (size_t k = 0; k < sizeof font / sizeof font[0]; k++)
            if (font[k].c == c) bits = font[k].bits;
        for (int r = 0; r < 5; r++)
            for (int q = 0; q < 3; q++)
                if (bits & (1u << (14 - (r * 3 + q))))
                    for (int dy = 0; dy < scale; dy++)
                        for (int dx = 0; dx < scale; dx++)
                            put(img, w, h, x + q * scale + dx, y + r * scale + dy, 0);
    }
}

static void line(unsigned char *img, size_t w, size_t h, long x0, long y0, long x1, long y1,
                 unsigned char v)
{
    long dx = labs(x1 - x0), dy = -labs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    long err = dx + dy;
    for (;;) {
        put(img, w, h, x0, y0, v);
        if (x0 == x1 && y0 == y1) break;
        long e2 = 2 * err;
        if (e2 >= dy) {
            err += dy;
            x0 += sx;
        }
        if (e2 <= dx) {
            err += dx;
            y0 += sy;
        }
    }
}

static i2ig_status save_u8(const char *path, const unsigned char *px, size_t w, size_t h)
{
    i2ig_image *im;
    i2ig_status st = i2ig_image_create(I2IG_DTYPE_U8, w, h, 1, &im);
    if (st != I2IG_OK) return st;
    memcpy(i2ig_image_data(im, 0), px, w * h);
    st = i2ig_image_save(im, path, I2IG_FORMAT_PNG);
    i2ig_image_free(im);
    return st;
}

i2ig_status plot_series(const char *path, const char *const *names, int n_series,
                        const double *x, const double *const *y, size_t n)
{
    enum { PW = 300, PH = 170, COLS = 2, MARGIN = 30 };
    int rows = (n_series + COLS - 1) / COLS;
    size_t w = COLS * PW, h = (size_t)rows * PH;
    unsigned char img[COLS * PW * 8 * PH];
    if (rows > 8) return I2IG_ERR_INVALID_ARGUMENT;
    memset(img, 255, w * h);
    for (int k = 0; k < n_series; k++) {
        long ox = (k % COLS) * PW, oy = (k / COLS) * PH;
        long left = ox + MARGIN + 10, right = ox + PW - 10, top = oy + 24, bottom = oy + PH - 22;
        double lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < n; i++)
            if (isfinite(y[k][i])) {
                if (y[k][i] < lo) lo = y[k][i];
                if (y[k][i] > hi) hi = y[k][i];
            }
        if (!(hi > lo)) {
            hi = (isfinite(lo) ? lo : 0) + 1;
            lo = hi - 2;
        }
        char title[96];
        snprintf(title, sizeof title, "%s  %.4g", names[k], n ? y[k][n - 1] : 0.0);
        text(img, w, h, ox + 8, oy + 6, title, 2);
        line(img, w, h, left, top, left, bottom, 0);
        line(img, w, h, left, bottom, right, bottom, 0);
        char lab[32];
        snprintf(lab, sizeof lab, "%.3g", hi);
        text(img, w, h, ox + 2, top, lab, 1);
        snprintf(lab, sizeof lab, "%.3g", lo);
        text(img, w, h, ox + 2, bottom - 5, lab, 1);
        if (n) {
            snprintf(lab, sizeof lab, "%.0f", x[n - 1]);
            text(img, w, h, right - 4 * (long)strlen(lab), bottom + 6, lab, 1);
            snprintf(lab, sizeof lab, "%.0f", x[0]);
            text(img, w, h, left, bottom + 6, lab, 1);
        }
        double x0 = n ? x[0] : 0, x1 = n ? x[n - 1] : 1;
        if (!(x1 > x0)) x1 = x0 + 1;
        long px = -1, py = -1;
        for (size_t i = 0; i < n; i++) {
            if (!isfinite(y[k][i])) continue;
            long cx = left + (long)((x[i] - x0) / (x1 - x0) * (double)(right - left));
            long cy = bottom - (long)((y[k][i] - lo) / (hi - lo) * (double)(bottom - top));
            if (px >= 0) line(img, w, h, px, py, cx, cy, 60);
            else put(img, w, h, cx, cy, 60);
            px = cx;
            py = cy;
        }
    }
    return save_u8(path, img, w, h);
}

i2ig_status plot_grid(const char *path, const float *tiles, int rows, int cols, size_t side)
{
    size_t gap = 2, w = (size_t)cols * (side + gap) + gap, h = (size_t)rows * (side + gap) + gap;
    i2ig_image *im;
    i2ig_status st = i2ig_image_create(I2IG_DTYPE_U8, w, h, 1, &im);
    if (st != I2IG_OK) return st;
    unsigned char *px = i2ig_image_data(im, 0);
    memset(px, 255, w * h);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            const float *t = tiles + ((size_t)r * (size_t)cols + (size_t)c) * side * side;
            for (size_t y = 0; y < side; y++)
                for (size_t x = 0; x < side; x++) {
                    float v = t[y * side + x];
                    v = v < 0 ? 0 : v > 1 ? 1 : v;
                    px[(gap + (size_t)r * (side + gap) + y) * w + gap + (size_t)c * (side + gap) + x] =
                        (unsigned char)lrintf(v * 255.0f);
                }
        }
    st = i2ig_image_save(im, path, I2IG_FORMAT_PNG);
    i2ig_image_free(im);
    return st;
}
