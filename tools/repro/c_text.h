// C source text for the reproducers (tools/repro/): literals, byte arrays, comments.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace lockstep::tools {

// "0x1f"
inline std::string c_hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// A C string literal: quotes, backslashes and control characters escaped.
inline std::string c_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\%03o", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// Text safe inside a /* */ comment.
inline std::string c_comment(std::string s) {
  for (size_t at; (at = s.find("*/")) != std::string::npos;) s.replace(at, 2, "* /");
  return s;
}

// "static const unsigned char NAME[] = {0x01, ...};\n", 12 bytes a line.
inline std::string c_bytes(const std::string& name, const std::vector<uint8_t>& bytes) {
  if (bytes.empty()) return "";
  std::string out = "static const unsigned char " + name + "[] = {";
  for (size_t i = 0; i < bytes.size(); ++i) {
    out += i % 12 ? " " : "\n        ";
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%02x,", bytes[i]);
    out += buf;
  }
  return out + "};\n";
}

}  // namespace lockstep::tools
