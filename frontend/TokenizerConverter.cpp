// TokenizerConverter.cpp - tokenizer.json -> sentencepiece.ModelProto bytes.
//
// Hugging Face's BPE and SentencePiece's BPE describe the same tokenizer in
// different terms:
//  - HF ranks merges (pairs of pieces); SentencePiece ranks pieces by score
//    and, at each step, joins the adjacent pair whose concatenation is the
//    best-scored piece. A piece's score is minus the rank of the first merge
//    that produces it, as in the published Gemma 3 SentencePiece model.
//  - HF splits "added tokens" out of the text before the model runs;
//    SentencePiece does that for USER_DEFINED pieces.
//  - HF's normalizer Replace(' ' -> '▁') is SentencePiece's
//    escape_whitespaces, with no dummy prefix and no other normalization.
// The protobuf is written by hand (sentencepiece_model.proto field numbers);
// the result matches the Gemma 3 SentencePiece model byte for byte.

#include "frontend/TokenizerConverter.h"

#include "frontend/ModelConfig.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <unordered_map>
#include <vector>

namespace gemma {

using nlohmann::json;

namespace {

// Field numbers and enum values of sentencepiece_model.proto.
namespace pb {
// ModelProto
constexpr int kPieces = 1, kTrainerSpec = 2, kNormalizerSpec = 3;
// ModelProto.SentencePiece
constexpr int kPiece = 1, kScore = 2, kType = 3;
enum PieceType : int {
  NORMAL = 1,
  UNKNOWN = 2,
  CONTROL = 3,
  USER_DEFINED = 4,
  BYTE = 6,
};
// TrainerSpec
constexpr int kModelType = 3, kVocabSize = 4, kMaxSentencepieceLength = 20,
              kSplitByUnicodeScript = 21, kSplitByWhitespace = 22,
              kSplitByNumber = 23, kSplitDigits = 25,
              kAllowWhitespaceOnlyPieces = 26, kByteFallback = 35, kUnkId = 40,
              kBosId = 41, kEosId = 42, kPadId = 43, kUnkPiece = 45,
              kBosPiece = 46, kEosPiece = 47, kPadPiece = 48;
constexpr int kModelTypeBpe = 2;
// NormalizerSpec
constexpr int kName = 1, kPrecompiledCharsmap = 2, kAddDummyPrefix = 3,
              kRemoveExtraWhitespaces = 4, kEscapeWhitespaces = 5;
} // namespace pb

// Protobuf wire format: a key varint (field << 3 | wire type) before each
// value; varints for integers and bools, length-delimited bytes for strings
// and sub-messages, little-endian fixed32 for floats. Fields are written in
// field-number order, as protobuf's own serializer does.
class ProtoWriter {
public:
  void boolean(int field, bool value) { uint64(field, value ? 1 : 0); }
  // int32 is a varint of the value sign-extended to 64 bits, so -1 takes ten
  // bytes.
  void int32(int field, int32_t value) {
    uint64(field, static_cast<uint64_t>(static_cast<int64_t>(value)));
  }
  void uint64(int field, uint64_t value) {
    key(field, 0);
    varint(value);
  }
  void bytes(int field, const std::string &value) {
    key(field, 2);
    varint(value.size());
    out += value;
  }
  void float32(int field, float value) {
    key(field, 5);
    uint32_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    for (int i = 0; i < 4; ++i)
      out.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
  }
  const std::string &data() const { return out; }

private:
  void key(int field, int wireType) {
    varint((static_cast<uint64_t>(field) << 3) | wireType);
  }
  void varint(uint64_t value) {
    while (value >= 0x80) {
      out.push_back(static_cast<char>((value & 0x7f) | 0x80));
      value >>= 7;
    }
    out.push_back(static_cast<char>(value));
  }
  std::string out;
};

// Number of Unicode code points in UTF-8 text.
size_t codePoints(const std::string &text) {
  size_t n = 0;
  for (unsigned char c : text)
    n += (c & 0xC0) != 0x80;
  return n;
}

const char *const kWhitespaceMark = "\xE2\x96\x81"; // U+2581 '▁'

// Gemma's names for the tokens with a role (SPEC §7). tokenizer.json names
// only the unknown token (model.unk_token) and, in the post-processor, the
// token put before every sequence; eos and pad live in tokenizer_config.json,
// so they are found by these names among the special added tokens.
const char *const kBosName = "<bos>";
const char *const kEosName = "<eos>";
const char *const kPadName = "<pad>";

struct Role {
  int32_t id = -1; // -1: the model has no such token
  std::string piece;
};

class Converter {
public:
  explicit Converter(std::string path) : path(std::move(path)) {}

  // Converts `text`, the contents of the file `path` names.
  std::string run(const std::string &text);

private:
  [[noreturn]] void fail(const std::string &field,
                         const std::string &message) const {
    throw Error(path + ": tokenizer field '" + field + "': " + message);
  }

  json parse(const std::string &text) const;
  const json &objectField(const json &obj, const std::string &key,
                          const std::string &field) const;
  std::string stringOf(const json &value, const std::string &field) const;
  bool isNullOrAbsent(const json &obj, const std::string &key) const {
    auto it = obj.find(key);
    return it == obj.end() || it->is_null();
  }
  bool boolField(const json &obj, const std::string &key, bool defaultValue,
                 const std::string &field) const;
  int32_t idOf(const std::string &piece, const std::string &field) const;

  void readModel(const json &model);
  void readVocab(const json &vocab);
  void readMerges(const json &merges);
  void readAddedTokens(const json &root);
  void checkNormalizer(const json &root);
  void checkPreTokenizer(const json &root);
  void checkPostProcessor(const json &root);
  void assignTypes();
  std::string serialize() const;

  std::string path;
  bool byteFallback = false;
  std::string unkName;
  std::vector<std::string> pieces; // by id
  std::unordered_map<std::string, int32_t> ids;
  std::vector<float> scores;
  std::vector<bool> fromMerge; // some merge produces the piece
  // Added tokens inside the vocabulary, by id: whether HF calls it special.
  std::unordered_map<int32_t, bool> added;
  Role unk, bos, eos, pad;
  std::vector<int> types;
};

json Converter::parse(const std::string &text) const {
  try {
    return json::parse(text);
  } catch (const json::exception &e) {
    throw Error(path + ": malformed JSON: " + e.what());
  }
}

const json &Converter::objectField(const json &obj, const std::string &key,
                                   const std::string &field) const {
  auto it = obj.find(key);
  if (it == obj.end())
    fail(field, "missing");
  if (!it->is_object())
    fail(field, "expected an object, got " + it->dump().substr(0, 80));
  return *it;
}

std::string Converter::stringOf(const json &value,
                                const std::string &field) const {
  if (!value.is_string())
    fail(field, "expected a string, got " + value.dump().substr(0, 80));
  return value.get<std::string>();
}

bool Converter::boolField(const json &obj, const std::string &key,
                          bool defaultValue, const std::string &field) const {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null())
    return defaultValue;
  if (!it->is_boolean())
    fail(field, "expected true or false, got " + it->dump());
  return it->get<bool>();
}

int32_t Converter::idOf(const std::string &piece,
                        const std::string &field) const {
  auto it = ids.find(piece);
  if (it == ids.end())
    fail(field, "'" + piece + "' is not in model.vocab");
  return it->second;
}

void Converter::readModel(const json &model) {
  auto typeIt = model.find("type");
  if (typeIt == model.end())
    fail("model.type", "missing (only \"BPE\" converts)");
  std::string type = stringOf(*typeIt, "model.type");
  if (type != "BPE")
    fail("model.type", "\"" + type +
                           "\" is not supported: only a BPE model maps to a "
                           "SentencePiece BPE model");
  // Dropout is a sampling option of the encoder, not part of a model.
  auto dropout = model.find("dropout");
  if (dropout != model.end() && !dropout->is_null() &&
      !(dropout->is_number() && dropout->get<double>() == 0.0))
    fail("model.dropout", "BPE dropout has no SentencePiece model field");
  // SentencePiece marks word starts with '▁' inside pieces; it has no
  // separate continuation prefix or end-of-word suffix.
  for (const char *key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    auto it = model.find(key);
    if (it != model.end() && !it->is_null() &&
        !(it->is_string() && it->get<std::string>().empty()))
      fail(std::string("model.") + key, "not representable in SentencePiece");
  }
  // ignore_merges emits a whole word found in the vocabulary without merging;
  // SentencePiece always merges.
  if (boolField(model, "ignore_merges", false, "model.ignore_merges"))
    fail("model.ignore_merges", "true is not representable in SentencePiece");
  byteFallback =
      boolField(model, "byte_fallback", false, "model.byte_fallback");
  // SentencePiece always fuses a run of unknown characters into one <unk>;
  // with byte fallback no <unk> comes out at all.
  if (!boolField(model, "fuse_unk", false, "model.fuse_unk") && !byteFallback)
    fail("model.fuse_unk",
         "SentencePiece fuses unknown characters; false is representable "
         "only with byte_fallback");
  // SentencePiece needs an UNKNOWN piece.
  auto unkIt = model.find("unk_token");
  if (unkIt == model.end() || unkIt->is_null())
    fail("model.unk_token", "missing: SentencePiece needs an unknown piece");
  unkName = stringOf(*unkIt, "model.unk_token");

  auto vocab = model.find("vocab");
  if (vocab == model.end())
    fail("model.vocab", "missing");
  readVocab(*vocab);
  auto merges = model.find("merges");
  if (merges == model.end())
    fail("model.merges", "missing");
  readMerges(*merges);
}

void Converter::readVocab(const json &vocab) {
  if (!vocab.is_object() || vocab.empty())
    fail("model.vocab", "expected a non-empty object piece -> id");
  if (vocab.size() > static_cast<size_t>(INT32_MAX))
    fail("model.vocab", "too many pieces");
  const int32_t n = static_cast<int32_t>(vocab.size());
  pieces.assign(n, std::string());
  std::vector<bool> seen(n, false);
  ids.reserve(n);
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    const std::string field = "model.vocab[\"" + it.key() + "\"]";
    if (!it->is_number_integer())
      fail(field, "expected an integer id, got " + it->dump());
    int64_t id = it->get<int64_t>();
    // SentencePiece ids are positions in the piece list.
    if (id < 0 || id >= n || seen[id])
      fail(field, "ids must be 0.." + std::to_string(n - 1) +
                      ", each used once; got " + std::to_string(id));
    seen[id] = true;
    pieces[id] = it.key();
    ids.emplace(it.key(), static_cast<int32_t>(id));
  }
}

void Converter::readMerges(const json &merges) {
  if (!merges.is_array())
    fail("model.merges", "expected an array");
  // Scores are floats: ranks beyond 2^24 would no longer be distinct.
  if (merges.size() > (size_t(1) << 24))
    fail("model.merges", "too many merges to rank exactly by float scores");
  const size_t n = pieces.size();
  scores.assign(n, 0.0f);
  fromMerge.assign(n, false);
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const json &merge = merges[rank];
    const std::string field = "model.merges[" + std::to_string(rank) + "]";
    std::string left, right;
    // Current tokenizers write ["a", "b"]; older ones "a b".
    if (merge.is_array() && merge.size() == 2) {
      left = stringOf(merge[0], field + "[0]");
      right = stringOf(merge[1], field + "[1]");
    } else if (merge.is_string()) {
      const std::string text = merge.get<std::string>();
      size_t space = text.find(' ');
      if (space == std::string::npos ||
          text.find(' ', space + 1) != std::string::npos)
        fail(field, "expected \"left right\", got \"" + text + "\"");
      left = text.substr(0, space);
      right = text.substr(space + 1);
    } else {
      fail(field, "expected a pair of pieces, got " + merge.dump());
    }
    idOf(left, field);
    idOf(right, field);
    int32_t id = idOf(left + right, field);
    // SentencePiece ranks merges by the score of the resulting piece, higher
    // first; several HF merges can produce the same piece, and the first
    // (best-ranked) one gives its score, as in the Gemma 3 model.
    if (!fromMerge[id]) {
      fromMerge[id] = true;
      scores[id] = -static_cast<float>(rank);
    }
  }
}

void Converter::readAddedTokens(const json &root) {
  auto list = root.find("added_tokens");
  if (list == root.end() || list->is_null())
    return;
  if (!list->is_array())
    fail("added_tokens", "expected an array");
  const int64_t n = static_cast<int64_t>(pieces.size());
  for (size_t i = 0; i < list->size(); ++i) {
    const json &token = (*list)[i];
    const std::string field = "added_tokens[" + std::to_string(i) + "]";
    if (!token.is_object())
      fail(field, "expected an object");
    auto idIt = token.find("id");
    if (idIt == token.end() || !idIt->is_number_integer())
      fail(field + ".id", "expected an integer");
    int64_t id = idIt->get<int64_t>();
    auto contentIt = token.find("content");
    if (contentIt == token.end())
      fail(field + ".content", "missing");
    std::string content = stringOf(*contentIt, field + ".content");
    bool special = boolField(token, "special", false, field + ".special");
    // SentencePiece matches user-defined pieces wherever they occur; it
    // cannot strip neighbouring spaces or require word boundaries.
    for (const char *flag : {"lstrip", "rstrip", "single_word"})
      if (boolField(token, flag, false, field + "." + flag))
        fail(field + "." + flag, "true is not representable in SentencePiece");
    // Tokens beyond the vocabulary (Gemma 3's <image_soft_token>, 262144)
    // have no piece: SPEC §7 adds them beyond the SentencePiece model.
    if (id >= n && !ids.count(content))
      continue;
    if (id < 0 || id >= n || pieces[id] != content)
      fail(field, "'" + content + "' with id " + std::to_string(id) +
                      " does not match model.vocab");
    // The `normalized` flag has no counterpart: SentencePiece matches
    // user-defined pieces in the whitespace-escaped text. Gemma's
    // whitespace-run tokens ("▁▁", ...) come out the same either way, since
    // merges build the same pieces from runs of spaces.
    added[static_cast<int32_t>(id)] = special;
  }
}

void Converter::checkNormalizer(const json &root) {
  // Gemma normalizes nothing but spaces, which become '▁': that is
  // SentencePiece's escape_whitespaces under the "identity" rule, with no
  // dummy prefix and no whitespace collapsing.
  auto it = root.find("normalizer");
  const char *expected = "only {\"type\": \"Replace\", \"pattern\": "
                         "{\"String\": \" \"}, \"content\": \"\xE2\x96\x81\"} "
                         "maps to SentencePiece";
  if (it == root.end() || !it->is_object())
    fail("normalizer", expected);
  const json &norm = *it;
  auto type = norm.find("type");
  if (type == norm.end() || *type != "Replace")
    fail("normalizer.type",
         (type == norm.end() ? std::string("missing") : type->dump()) + "; " +
             expected);
  auto pattern = norm.find("pattern");
  auto content = norm.find("content");
  if (pattern == norm.end() || !pattern->is_object() || pattern->size() != 1 ||
      !pattern->contains("String") || (*pattern)["String"] != " ")
    fail("normalizer.pattern", expected);
  if (content == norm.end() || *content != kWhitespaceMark)
    fail("normalizer.content", expected);
}

void Converter::checkPreTokenizer(const json &root) {
  // A Split on " " runs after the normalizer turned every space into '▁', so
  // it never matches and splits nothing; SentencePiece's BPE likewise runs
  // over the whole text.
  if (isNullOrAbsent(root, "pre_tokenizer"))
    return;
  const json &pre = root["pre_tokenizer"];
  const char *expected =
      "only none, or a Split on the string \" \" (a no-op after the "
      "normalizer), maps to SentencePiece";
  if (!pre.is_object() || !pre.contains("type") || pre["type"] != "Split")
    fail("pre_tokenizer", expected);
  auto pattern = pre.find("pattern");
  if (pattern == pre.end() || !pattern->is_object() || pattern->size() != 1 ||
      !pattern->contains("String") || (*pattern)["String"] != " ")
    fail("pre_tokenizer.pattern", expected);
  if (boolField(pre, "invert", false, "pre_tokenizer.invert"))
    fail("pre_tokenizer.invert", expected);
}

void Converter::checkPostProcessor(const json &root) {
  // SentencePiece adds <bos> through an encode option, not the model; the
  // only template it can reproduce is "<bos> A", so every special token the
  // template adds must be the bos token.
  if (isNullOrAbsent(root, "post_processor"))
    return;
  const json &post = root["post_processor"];
  if (!post.is_object() || !post.contains("type") ||
      post["type"] != "TemplateProcessing")
    fail("post_processor", "only TemplateProcessing adding <bos> is "
                           "representable");
  auto single = post.find("single");
  if (single == post.end() || !single->is_array())
    fail("post_processor.single", "expected an array");
  for (size_t i = 0; i < single->size(); ++i) {
    const json &item = (*single)[i];
    if (!item.is_object() || !item.contains("SpecialToken"))
      continue;
    const json &tok = item["SpecialToken"];
    const std::string field =
        "post_processor.single[" + std::to_string(i) + "].SpecialToken.id";
    if (!tok.is_object() || !tok.contains("id"))
      fail(field, "missing");
    std::string name = stringOf(tok["id"], field);
    if (name != bos.piece)
      fail(field, "'" + name + "': only <bos> can be added by SentencePiece");
  }
}

void Converter::assignTypes() {
  const int32_t n = static_cast<int32_t>(pieces.size());
  unk.id = idOf(unkName, "model.unk_token");
  unk.piece = unkName;
  for (Role *role : {&bos, &eos, &pad}) {
    const char *name = role == &bos   ? kBosName
                       : role == &eos ? kEosName
                                      : kPadName;
    auto it = ids.find(name);
    if (it != ids.end() && added.count(it->second) && added[it->second]) {
      role->id = it->second;
      role->piece = name;
    }
  }

  types.assign(n, pb::NORMAL);
  // Every added token is split out of the text by HF before BPE runs, special
  // or not (<start_of_turn>, <unused0>, "\t", ...): SentencePiece does that
  // for USER_DEFINED pieces.
  for (const auto &entry : added)
    types[entry.first] = pb::USER_DEFINED;
  // <bos>, <eos> and <pad> are CONTROL: SentencePiece never produces them
  // from text, they are only added as ids (SPEC §7: "<bos>" in the text is
  // not <bos>).
  for (const Role *role : {&bos, &eos, &pad})
    if (role->id >= 0)
      types[role->id] = pb::CONTROL;
  types[unk.id] = pb::UNKNOWN;
  // With byte fallback, a character with no piece becomes its UTF-8 bytes
  // <0x00>..<0xFF>; SentencePiece needs all 256 as BYTE pieces.
  if (byteFallback) {
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      int32_t id = idOf(name, "model.byte_fallback");
      if (types[id] != pb::NORMAL || fromMerge[id])
        fail("model.vocab", std::string("byte piece ") + name +
                                " is also an added token or merge result");
      types[id] = pb::BYTE;
    }
  }

  for (int32_t id = 0; id < n; ++id) {
    if (types[id] != pb::NORMAL) {
      // Matched whole or added as ids, never merged: score 0, as in the
      // Gemma 3 model.
      scores[id] = 0.0f;
    } else if (!fromMerge[id] && codePoints(pieces[id]) > 1) {
      // Single characters are where BPE starts (score 0). SentencePiece would
      // also join two symbols into a longer piece that no HF merge produces.
      fail("model.merges", "no merge produces the piece '" + pieces[id] +
                               "' (id " + std::to_string(id) + ")");
    }
  }
}

std::string Converter::serialize() const {
  ProtoWriter model;
  for (size_t id = 0; id < pieces.size(); ++id) {
    ProtoWriter piece;
    piece.bytes(pb::kPiece, pieces[id]);
    piece.float32(pb::kScore, scores[id]);
    piece.uint64(pb::kType, types[id]);
    model.bytes(pb::kPieces, piece.data());
  }

  ProtoWriter trainer;
  trainer.uint64(pb::kModelType, pb::kModelTypeBpe);
  trainer.int32(pb::kVocabSize, static_cast<int32_t>(pieces.size()));
  // Training settings of the Gemma 3 model, recorded as it records them:
  // they describe how the vocabulary was built (digits split, no script or
  // number splitting, whitespace-only pieces allowed, pieces up to 64
  // characters); tokenizer.json has no field for them.
  trainer.int32(pb::kMaxSentencepieceLength, 64);
  trainer.boolean(pb::kSplitByUnicodeScript, false);
  trainer.boolean(pb::kSplitByWhitespace, false);
  trainer.boolean(pb::kSplitByNumber, false);
  trainer.boolean(pb::kSplitDigits, true);
  trainer.boolean(pb::kAllowWhitespaceOnlyPieces, true);
  trainer.boolean(pb::kByteFallback, byteFallback);
  trainer.int32(pb::kUnkId, unk.id);
  trainer.int32(pb::kBosId, bos.id);
  trainer.int32(pb::kEosId, eos.id);
  trainer.int32(pb::kPadId, pad.id);
  trainer.bytes(pb::kUnkPiece, unk.piece);
  if (bos.id >= 0)
    trainer.bytes(pb::kBosPiece, bos.piece);
  if (eos.id >= 0)
    trainer.bytes(pb::kEosPiece, eos.piece);
  if (pad.id >= 0)
    trainer.bytes(pb::kPadPiece, pad.piece);
  model.bytes(pb::kTrainerSpec, trainer.data());

  ProtoWriter normalizer;
  // "identity" with an empty character map: no Unicode normalization, as HF
  // applies none; see checkNormalizer for the whitespace settings.
  normalizer.bytes(pb::kName, "identity");
  normalizer.bytes(pb::kPrecompiledCharsmap, "");
  normalizer.boolean(pb::kAddDummyPrefix, false);
  normalizer.boolean(pb::kRemoveExtraWhitespaces, false);
  normalizer.boolean(pb::kEscapeWhitespaces, true);
  model.bytes(pb::kNormalizerSpec, normalizer.data());
  return model.data();
}

std::string Converter::run(const std::string &text) {
  json root = parse(text);
  try {
    if (!root.is_object())
      throw Error(path + ": malformed tokenizer.json: the top level is not an "
                         "object");
    readModel(objectField(root, "model", "model"));
    readAddedTokens(root);
    checkNormalizer(root);
    checkPreTokenizer(root);
    assignTypes();
    checkPostProcessor(root);
    // The decoder needs no field: SentencePiece always decodes '▁' to a space
    // and fuses byte pieces, which is Gemma's decoder sequence.
    return serialize();
  } catch (const json::exception &e) {
    // Only unexpected shapes get here; the checks above name most fields.
    throw Error(path + ": malformed tokenizer.json: " + e.what());
  }
}

} // namespace

std::string convertTokenizerJson(const std::string &tokenizerJsonPath) {
  return convertTokenizerJsonText(
      readTextFile(tokenizerJsonPath, "tokenizer.json"), tokenizerJsonPath);
}

std::string convertTokenizerJsonText(const std::string &text,
                                     const std::string &sourceName) {
  return Converter(sourceName).run(text);
}

} // namespace gemma
