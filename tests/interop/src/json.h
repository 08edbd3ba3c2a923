// JSON from any Cap'n Proto value, through the dynamic reflection API (capnp/dynamic.h), so every
// field of every struct is covered without per-type code.
//
// * fields in schema order, by their camelCase schema names, always all of them (defaults too;
//   a null pointer reads as its default); of a union only the active member
// * Void -> null, enums -> enumerant name, integers -> exact decimals
// * Data -> padded base64; a Data *field* `x` is followed by `"xUtf8"`: the bytes as a string when
//   they are valid UTF-8, else null
// * capabilities -> "<capability>", AnyPointer -> "<opaque pointer>"
#pragma once

#include <capnp/dynamic.h>
#include <string>

namespace interop {

// Appends `s` as a JSON string. Invalid UTF-8 becomes U+FFFD. With htmlSafe, <, > and & are
// written as \u003c, \u003e, \u0026 (what Go's encoding/json does).
void appendJsonString(std::string& out, kj::ArrayPtr<const char> s, bool htmlSafe = false);

void appendJson(std::string& out, capnp::DynamicValue::Reader value);

std::string toJson(capnp::DynamicStruct::Reader value);

bool isValidUtf8(kj::ArrayPtr<const kj::byte> bytes);

}  // namespace interop
