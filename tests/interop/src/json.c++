#include "json.h"

#include <capnp/schema.h>
#include <kj/encoding.h>
#include <cmath>
#include <cstdio>

namespace interop {

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 if there is none (overlong forms, surrogates
// and code points above U+10FFFF are invalid).
size_t utf8SequenceAt(const unsigned char* s, size_t n, size_t i) {
  unsigned char c = s[i];
  if (c < 0x80) return 1;
  size_t len;
  uint32_t cp;
  if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1f; }
  else if (c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0f; }
  else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07; }
  else return 0;
  if (i + len > n) return 0;
  for (size_t k = 1; k < len; k++) {
    if ((s[i + k] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (s[i + k] & 0x3f);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff))) return 0;
  if (cp >= 0xd800 && cp <= 0xdfff) return 0;
  return len;
}

void appendStruct(std::string& out, capnp::DynamicStruct::Reader s) {
  auto active = s.which();
  out += '{';
  bool first = true;
  for (capnp::StructSchema::Field field : s.getSchema().getFields()) {
    if (field.getProto().getDiscriminantValue() != capnp::schema::Field::NO_DISCRIMINANT) {
      KJ_IF_MAYBE(a, active) {
        if (*a != field) continue;
      } else {
        continue;
      }
    }
    kj::StringPtr name = field.getProto().getName();
    capnp::DynamicValue::Reader value = s.get(field);
    if (!first) out += ',';
    first = false;
    appendJsonString(out, name);
    out += ':';
    appendJson(out, value);
    if (value.getType() == capnp::DynamicValue::DATA) {
      auto bytes = value.as<capnp::Data>();
      out += ',';
      appendJsonString(out, kj::str(name, "Utf8"));
      out += ':';
      if (isValidUtf8(bytes)) {
        appendJsonString(out, bytes.asChars());
      } else {
        out += "null";
      }
    }
  }
  out += '}';
}

}  // namespace

bool isValidUtf8(kj::ArrayPtr<const kj::byte> bytes) {
  for (size_t i = 0; i < bytes.size();) {
    size_t len = utf8SequenceAt(bytes.begin(), bytes.size(), i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

void appendJsonString(std::string& out, kj::ArrayPtr<const char> text, bool htmlSafe) {
  auto s = reinterpret_cast<const unsigned char*>(text.begin());
  size_t n = text.size();
  out += '"';
  for (size_t i = 0; i < n;) {
    unsigned char c = s[i];
    char buf[8];
    switch (c) {
      case '"': out += "\\\""; i++; continue;
      case '\\': out += "\\\\"; i++; continue;
      case '\n': out += "\\n"; i++; continue;
      case '\r': out += "\\r"; i++; continue;
      case '\t': out += "\\t"; i++; continue;
      case '\b': out += "\\b"; i++; continue;
      case '\f': out += "\\f"; i++; continue;
      default: break;
    }
    if (c < 0x20 || (htmlSafe && (c == '<' || c == '>' || c == '&'))) {
      snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
      i++;
      continue;
    }
    size_t len = utf8SequenceAt(s, n, i);
    if (len == 0) {
      out += "\xef\xbf\xbd";  // U+FFFD for a byte that is not valid UTF-8
      i++;
    } else {
      out.append(text.begin() + i, len);
      i += len;
    }
  }
  out += '"';
}

void appendJson(std::string& out, capnp::DynamicValue::Reader value) {
  switch (value.getType()) {
    case capnp::DynamicValue::VOID:
      out += "null";
      return;
    case capnp::DynamicValue::BOOL:
      out += value.as<bool>() ? "true" : "false";
      return;
    case capnp::DynamicValue::INT:
      out += std::to_string(value.as<int64_t>());
      return;
    case capnp::DynamicValue::UINT:
      out += std::to_string(value.as<uint64_t>());
      return;
    case capnp::DynamicValue::FLOAT: {
      double d = value.as<double>();
      if (std::isfinite(d)) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%.17g", d);
        out += buf;
      } else {
        out += std::isnan(d) ? "\"NaN\"" : d > 0 ? "\"Infinity\"" : "\"-Infinity\"";
      }
      return;
    }
    case capnp::DynamicValue::TEXT:
      appendJsonString(out, value.as<capnp::Text>());
      return;
    case capnp::DynamicValue::DATA:
      out += '"';
      out += kj::encodeBase64(value.as<capnp::Data>()).cStr();
      out += '"';
      return;
    case capnp::DynamicValue::LIST: {
      auto list = value.as<capnp::DynamicList>();
      out += '[';
      for (uint i = 0; i < list.size(); i++) {
        if (i > 0) out += ',';
        appendJson(out, list[i]);
      }
      out += ']';
      return;
    }
    case capnp::DynamicValue::ENUM: {
      auto e = value.as<capnp::DynamicEnum>();
      KJ_IF_MAYBE(enumerant, e.getEnumerant()) {
        appendJsonString(out, enumerant->getProto().getName());
      } else {
        out += std::to_string(e.getRaw());  // a value this schema does not know
      }
      return;
    }
    case capnp::DynamicValue::STRUCT:
      appendStruct(out, value.as<capnp::DynamicStruct>());
      return;
    case capnp::DynamicValue::CAPABILITY:
      out += "\"<capability>\"";
      return;
    case capnp::DynamicValue::ANY_POINTER:
      out += "\"<opaque pointer>\"";
      return;
    case capnp::DynamicValue::UNKNOWN:
      break;
  }
  out += "null";
}

std::string toJson(capnp::DynamicStruct::Reader value) {
  std::string out;
  appendStruct(out, value);
  return out;
}

}  // namespace interop
