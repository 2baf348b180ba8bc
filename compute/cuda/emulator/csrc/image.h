// image.h: the module image formats shared by the fake NVRTC (which writes them) and the fake
// driver (which reads them). Both wrap the shared object g++ built:
//   "CUBIN": the 8 bytes "OMEMUSO1", the object's size (8 bytes, little endian), the object;
//   "PTX":   a text header line, ".emu_module_base64 SIZE", the object in base64, NUL.
// cuModuleLoadData takes either (it gets no size, so both carry theirs). A real CUBIN or PTX
// is refused with CUDA_ERROR_INVALID_IMAGE.
#ifndef ORDERMERGE_EMU_IMAGE_H
#define ORDERMERGE_EMU_IMAGE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <string>

namespace emu {

constexpr char kCubinMagic[8] = {'O', 'M', 'E', 'M', 'U', 'S', 'O', '1'};
constexpr const char* kPtxHeader = "// ordermerge CUDA emulator module (a host shared object, not PTX)\n";
constexpr const char* kPtxSizeTag = ".emu_module_base64 ";
// A module larger than this is refused: the header is corrupt, or not ours.
constexpr unsigned long long kMaxImage = 1ull << 31;

inline std::string encode_cubin(const std::string& so) {
  std::string out(kCubinMagic, 8);
  unsigned long long n = so.size();
  for (int i = 0; i < 8; i++) out += char((n >> (8 * i)) & 0xff);
  return out + so;
}

inline const char* base64_alphabet() { return "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"; }

inline std::string encode_ptx(const std::string& so) {
  std::string out = kPtxHeader;
  out += kPtxSizeTag + std::to_string(so.size()) + "\n";
  const char* a = base64_alphabet();
  size_t col = 0;
  for (size_t i = 0; i < so.size(); i += 3) {
    unsigned v = (unsigned char)so[i] << 16;
    if (i + 1 < so.size()) v |= (unsigned char)so[i + 1] << 8;
    if (i + 2 < so.size()) v |= (unsigned char)so[i + 2];
    out += a[(v >> 18) & 63];
    out += a[(v >> 12) & 63];
    out += i + 1 < so.size() ? a[(v >> 6) & 63] : '=';
    out += i + 2 < so.size() ? a[v & 63] : '=';
    if ((col += 4) == 76) {
      out += '\n';
      col = 0;
    }
  }
  out += '\n';
  return out;  // the caller's buffer adds the NUL
}

// decode_image unwraps a module image into the shared object's bytes.
inline bool decode_image(const void* image, std::string* so, std::string* why) {
  const char* p = static_cast<const char*>(image);
  if (memcmp(p, kCubinMagic, 8) == 0) {
    unsigned long long n = 0;
    for (int i = 0; i < 8; i++) n |= (unsigned long long)(unsigned char)p[8 + i] << (8 * i);
    if (n == 0 || n > kMaxImage) {
      *why = "corrupt emulator module image (bad size)";
      return false;
    }
    so->assign(p + 16, size_t(n));
    return true;
  }
  size_t hl = strlen(kPtxHeader);
  if (strncmp(p, kPtxHeader, hl) == 0) {
    const char* q = p + hl;
    size_t tl = strlen(kPtxSizeTag);
    if (strncmp(q, kPtxSizeTag, tl) != 0) {
      *why = "corrupt emulator module text (no size line)";
      return false;
    }
    unsigned long long n = strtoull(q + tl, nullptr, 10);
    q = strchr(q, '\n');
    if (!q || n == 0 || n > kMaxImage) {
      *why = "corrupt emulator module text (bad size)";
      return false;
    }
    q++;
    int rev[256];
    for (int& r : rev) r = -1;
    const char* a = base64_alphabet();
    for (int i = 0; i < 64; i++) rev[(unsigned char)a[i]] = i;
    so->clear();
    so->reserve(size_t(n));
    unsigned v = 0;
    int bits = 0;
    for (; *q && so->size() < n; q++) {
      int d = rev[(unsigned char)*q];
      if (d < 0) continue;  // newlines and padding
      v = (v << 6) | unsigned(d);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        *so += char((v >> bits) & 0xff);
      }
    }
    if (so->size() != n) {
      *why = "corrupt emulator module text (truncated)";
      return false;
    }
    return true;
  }
  if (memcmp(p, "\x7f" "ELF", 4) == 0 || strncmp(p, "//", 2) == 0 || strncmp(p, ".version", 8) == 0 ||
      memcmp(p, "\x50\xed\x55\xba", 4) == 0)
    *why = "this is real CUBIN, PTX or fatbin code; the emulator runs only modules its own NVRTC compiled";
  else
    *why = "not a module image";
  return false;
}

}  // namespace emu

#endif
