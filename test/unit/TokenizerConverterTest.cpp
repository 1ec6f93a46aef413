// TokenizerConverterTest.cpp - the tokenizer.json converter against the
// fixture SentencePiece model (fixtures/tokenizer), through libsentencepiece.
//
// The published tokenizer.json comes from scripts/fetch-tokenizer.sh; without
// it the tests that need it fail (never skip) and say how to get it.

#include "frontend/TokenizerConverter.h"
#include "frontend/ModelConfig.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sentencepiece_processor.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

using namespace gemma;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::string kTokenizerDir =
    std::string(GEMMA_SHARED_DIR) + "/fixtures/tokenizer";
const std::string kFixtureModel = kTokenizerDir + "/gemma3-tokenizer.model";
const std::string kCases = kTokenizerDir + "/cases.json";
const std::string kTokenizerJson = GEMMA_TOKENIZER_JSON;

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A fresh directory per test, so tests never see each other's files.
std::string freshDir() {
  const auto *info = ::testing::UnitTest::GetInstance()->current_test_info();
  fs::path dir = fs::path(::testing::TempDir()) / "tokenizer_converter_tests" /
                 (std::string(info->test_suite_name()) + "." + info->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

std::string writeFile(const std::string &dir, const std::string &name,
                      const std::string &text) {
  std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// --- A minimal protobuf reader, to compare the models field by field. ---

struct Piece {
  std::string piece;
  float score = 0;
  int type = 1; // NORMAL, proto2 default
  bool operator==(const Piece &o) const {
    return piece == o.piece && score == o.score && type == o.type;
  }
};

struct ModelFields {
  std::vector<Piece> pieces;
  std::string trainerSpec, normalizerSpec; // serialized sub-messages
};

uint64_t readVarint(const std::string &b, size_t &i) {
  uint64_t v = 0;
  for (int shift = 0; i < b.size() && shift < 64; shift += 7) {
    uint8_t c = static_cast<uint8_t>(b[i++]);
    v |= uint64_t(c & 0x7f) << shift;
    if (c < 0x80)
      return v;
  }
  throw std::runtime_error("truncated varint");
}

// Calls fn(field, wireType, varint, bytes) for each field of a message.
template <typename Fn> void forEachField(const std::string &b, Fn fn) {
  size_t i = 0;
  while (i < b.size()) {
    uint64_t key = readVarint(b, i);
    int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
    uint64_t value = 0;
    std::string bytes;
    if (wire == 0) {
      value = readVarint(b, i);
    } else if (wire == 2) {
      uint64_t len = readVarint(b, i);
      if (len > b.size() - i)
        throw std::runtime_error("truncated field");
      bytes = b.substr(i, len);
      i += len;
    } else if (wire == 5) {
      if (b.size() - i < 4)
        throw std::runtime_error("truncated fixed32");
      bytes = b.substr(i, 4);
      i += 4;
    } else {
      throw std::runtime_error("unexpected wire type " + std::to_string(wire));
    }
    fn(field, wire, value, bytes);
  }
}

ModelFields parseModel(const std::string &proto) {
  ModelFields m;
  forEachField(proto, [&](int field, int, uint64_t, const std::string &bytes) {
    if (field == 1) {
      Piece p;
      forEachField(bytes, [&](int f, int, uint64_t v, const std::string &sub) {
        if (f == 1)
          p.piece = sub;
        else if (f == 2)
          std::memcpy(&p.score, sub.data(), 4);
        else if (f == 3)
          p.type = static_cast<int>(v);
      });
      m.pieces.push_back(p);
    } else if (field == 2) {
      m.trainerSpec = bytes;
    } else if (field == 3) {
      m.normalizerSpec = bytes;
    }
  });
  return m;
}

// --- The real tokenizer.json, converted once for all tests. ---

class RealTokenizer : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    fixtureProto = new std::string(readFile(kFixtureModel));
    converted = new std::string();
    conversionError = new std::string();
    if (!fs::exists(kTokenizerJson)) {
      *conversionError = kTokenizerJson +
                         " is missing: run scripts/fetch-tokenizer.sh to fetch "
                         "the published Gemma 3 tokenizer.json";
      return;
    }
    try {
      *converted = convertTokenizerJson(kTokenizerJson);
    } catch (const std::exception &e) {
      *conversionError = std::string("conversion failed: ") + e.what();
    }
  }
  static void TearDownTestSuite() {
    delete fixtureProto;
    delete converted;
    delete conversionError;
  }

  void SetUp() override {
    ASSERT_FALSE(fixtureProto->empty()) << "cannot read " << kFixtureModel;
    ASSERT_TRUE(conversionError->empty()) << *conversionError;
    auto status = fixture.LoadFromSerializedProto(*fixtureProto);
    ASSERT_TRUE(status.ok()) << kFixtureModel << ": " << status.ToString();
    status = mine.LoadFromSerializedProto(*converted);
    ASSERT_TRUE(status.ok()) << "converted model: " << status.ToString();
  }

  static std::vector<int>
  encode(const sentencepiece::SentencePieceProcessor &sp,
         const std::string &text) {
    std::vector<int> ids;
    auto status = sp.Encode(text, &ids);
    EXPECT_TRUE(status.ok()) << status.ToString();
    return ids;
  }

  static std::string *fixtureProto, *converted, *conversionError;
  sentencepiece::SentencePieceProcessor fixture, mine;
};

std::string *RealTokenizer::fixtureProto = nullptr;
std::string *RealTokenizer::converted = nullptr;
std::string *RealTokenizer::conversionError = nullptr;

TEST_F(RealTokenizer, EncodesEveryCaseLikeTheFixtureModel) {
  json cases = json::parse(readFile(kCases));
  ASSERT_GT(cases["cases"].size(), 100u);
  int checked = 0;
  for (const json &c : cases["cases"]) {
    const std::string text = c["text"].get<std::string>();
    const auto oracle = c["ids"].get<std::vector<int>>();
    const auto expected = encode(fixture, text);
    const auto got = encode(mine, text);
    // The claim is equivalence with the fixture model; the fixture in turn
    // reproduces HF's ids (cases.json) on every case, special tokens included
    // (<start_of_turn> etc. are user-defined pieces, split out of the text).
    EXPECT_EQ(got, expected) << "text: \"" << text << "\"";
    EXPECT_EQ(expected, oracle)
        << "fixture model vs HF, text: \"" << text << "\"";
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(cases["cases"].size()));
}

TEST_F(RealTokenizer, EncodesAndDecodesEdgeCasesLikeTheFixtureModel) {
  // Byte fallback (no piece for U+10FFFD), digits, whitespace runs, literal
  // '▁', a control token's text, user-defined tokens, empty text.
  const std::vector<std::string> texts = {
      "",
      " ",
      "   leading and trailing   ",
      "\n\n\nthree newlines\t\ttabs",
      "1234567890 and 3.14159",
      "\xF4\x8F\xBF\xBD private use, \xF0\x9F\x98\x80 emoji",
      "literal \xE2\x96\x81\xE2\x96\x81 marks",
      "<bos>not a bos<eos><pad><unk>",
      "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n",
      "<start_of_image><end_of_image><image_soft_token>",
      "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xA8 \xD8\xA7\xD9\x84"
      "\xD8\xB9\xD8\xB1\xD8\xA8\xD9\x8A\xD8\xA9",
      "<unused0><mask>[multimodal]</div>",
  };
  for (const std::string &text : texts) {
    const auto expected = encode(fixture, text);
    EXPECT_EQ(encode(mine, text), expected) << "text: \"" << text << "\"";
    std::string a, b;
    ASSERT_TRUE(fixture.Decode(expected, &a).ok());
    ASSERT_TRUE(mine.Decode(expected, &b).ok());
    EXPECT_EQ(b, a) << "decoding the ids of \"" << text << "\"";
  }
}

TEST_F(RealTokenizer, PieceTableMatchesTheFixtureModel) {
  ASSERT_EQ(mine.GetPieceSize(), fixture.GetPieceSize());
  EXPECT_EQ(mine.GetPieceSize(), 262144);
  int mismatches = 0;
  for (int id = 0; id < fixture.GetPieceSize() && mismatches < 10; ++id) {
    bool same = mine.IdToPiece(id) == fixture.IdToPiece(id) &&
                mine.GetScore(id) == fixture.GetScore(id) &&
                mine.IsControl(id) == fixture.IsControl(id) &&
                mine.IsUnknown(id) == fixture.IsUnknown(id) &&
                mine.IsUnused(id) == fixture.IsUnused(id) &&
                mine.IsByte(id) == fixture.IsByte(id);
    if (!same) {
      ++mismatches;
      ADD_FAILURE() << "id " << id << ": converted '" << mine.IdToPiece(id)
                    << "' score " << mine.GetScore(id) << ", fixture '"
                    << fixture.IdToPiece(id) << "' score "
                    << fixture.GetScore(id);
    }
  }

  // The processor does not expose USER_DEFINED vs NORMAL: compare the raw
  // piece records (string, score, type) too.
  ModelFields a = parseModel(*converted), b = parseModel(*fixtureProto);
  ASSERT_EQ(a.pieces.size(), b.pieces.size());
  mismatches = 0;
  for (size_t id = 0; id < b.pieces.size() && mismatches < 10; ++id) {
    if (!(a.pieces[id] == b.pieces[id])) {
      ++mismatches;
      ADD_FAILURE() << "id " << id << ": converted ('" << a.pieces[id].piece
                    << "', " << a.pieces[id].score << ", type "
                    << a.pieces[id].type << "), fixture ('"
                    << b.pieces[id].piece << "', " << b.pieces[id].score
                    << ", type " << b.pieces[id].type << ")";
    }
  }
  // Spot checks of the roles SPEC §7 names.
  EXPECT_EQ(mine.PieceToId("<start_of_turn>"), 105);
  EXPECT_EQ(mine.PieceToId("<end_of_turn>"), 106);
  EXPECT_EQ(mine.PieceToId("\n\n"), 108);
  EXPECT_EQ(mine.pad_id(), 0);
  EXPECT_EQ(mine.eos_id(), 1);
  EXPECT_EQ(mine.bos_id(), 2);
  EXPECT_EQ(mine.unk_id(), 3);
}

TEST_F(RealTokenizer, TrainerAndNormalizerSpecsMatchTheFixtureModel) {
  ModelFields a = parseModel(*converted), b = parseModel(*fixtureProto);
  EXPECT_EQ(a.trainerSpec, b.trainerSpec);
  EXPECT_EQ(a.normalizerSpec, b.normalizerSpec);
  // Together with the piece table, the whole model comes out byte for byte.
  EXPECT_TRUE(*converted == *fixtureProto)
      << "sizes " << converted->size() << " vs " << fixtureProto->size();
}

// --- Small synthetic tokenizer.json files: mapping details and errors. ---

json tinyTokenizer() {
  return json::parse(R"({
    "version": "1.0",
    "added_tokens": [
      {"id": 0, "content": "<pad>", "special": true, "normalized": false,
       "lstrip": false, "rstrip": false, "single_word": false},
      {"id": 1, "content": "<eos>", "special": true, "normalized": false,
       "lstrip": false, "rstrip": false, "single_word": false},
      {"id": 2, "content": "<bos>", "special": true, "normalized": false,
       "lstrip": false, "rstrip": false, "single_word": false},
      {"id": 3, "content": "<unk>", "special": true, "normalized": false,
       "lstrip": false, "rstrip": false, "single_word": false},
      {"id": 4, "content": "<turn>", "special": true, "normalized": false,
       "lstrip": false, "rstrip": false, "single_word": false},
      {"id": 12, "content": "<beyond>", "special": true, "normalized": false,
       "lstrip": false, "rstrip": false, "single_word": false}
    ],
    "normalizer": {"type": "Replace", "pattern": {"String": " "},
                   "content": "\u2581"},
    "pre_tokenizer": {"type": "Split", "pattern": {"String": " "},
                      "behavior": "MergedWithPrevious", "invert": false},
    "post_processor": {"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "<bos>", "type_id": 0}},
                 {"Sequence": {"id": "A", "type_id": 0}}]},
    "decoder": null,
    "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>",
      "continuing_subword_prefix": null, "end_of_word_suffix": null,
      "fuse_unk": true, "byte_fallback": false, "ignore_merges": false,
      "vocab": {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3, "<turn>": 4,
                "a": 5, "b": 6, "\u2581": 7, "ab": 8, "\u2581ab": 9,
                "abab": 10, "ba": 11},
      "merges": [["a", "b"], ["\u2581", "ab"], "ab ab", ["b", "a"]]}
  })");
}

TEST(TinyTokenizer, ConvertsAndTokenizes) {
  std::string dir = freshDir();
  std::string path = writeFile(dir, "tokenizer.json", tinyTokenizer().dump());
  std::string proto = convertTokenizerJson(path);
  ModelFields m = parseModel(proto);
  ASSERT_EQ(m.pieces.size(), 12u); // <beyond> (id 12) is left out
  // Types: CONTROL for the roles, UNKNOWN, USER_DEFINED for other added
  // tokens; scores minus the first merge rank.
  const std::vector<Piece> expected = {
      {"<pad>", 0, 3},  {"<eos>", 0, 3},     {"<bos>", 0, 3}, {"<unk>", 0, 2},
      {"<turn>", 0, 4}, {"a", 0, 1},         {"b", 0, 1},     {"\u2581", 0, 1},
      {"ab", -0.0f, 1}, {"\u2581ab", -1, 1}, {"abab", -2, 1}, {"ba", -3, 1},
  };
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_TRUE(m.pieces[i] == expected[i])
        << "id " << i << ": '" << m.pieces[i].piece << "' " << m.pieces[i].score
        << " type " << m.pieces[i].type;

  sentencepiece::SentencePieceProcessor sp;
  ASSERT_TRUE(sp.LoadFromSerializedProto(proto).ok());
  std::vector<int> ids;
  ASSERT_TRUE(sp.Encode("abab ab<turn>c<bos>", &ids).ok());
  // abab, ▁ab, <turn>, then one <unk> for the unknown run "c<"; the text
  // "<bos>" is not the bos token.
  std::vector<std::string> pieces;
  for (int id : ids)
    pieces.push_back(sp.IdToPiece(id));
  EXPECT_EQ(pieces[0], "abab");
  EXPECT_EQ(pieces[1], "\u2581ab");
  EXPECT_EQ(pieces[2], "<turn>");
  EXPECT_EQ(ids[3], 3); // c: unknown
  // <bos> in the text is never the bos id.
  for (int id : ids)
    EXPECT_NE(id, 2);
  EXPECT_EQ(sp.bos_id(), 2);
  EXPECT_EQ(sp.eos_id(), 1);
  EXPECT_EQ(sp.pad_id(), 0);
}

// Converting `text` (written as tokenizer.json) must throw an Error that
// names the file and contains `fragment`.
void expectError(const std::string &text, const std::string &fragment) {
  std::string dir = freshDir();
  std::string path = writeFile(dir, "tokenizer.json", text);
  try {
    convertTokenizerJson(path);
    ADD_FAILURE() << "no error; expected one mentioning " << fragment;
  } catch (const Error &e) {
    std::string message = e.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
  }
}

TEST(TinyTokenizer, MalformedJsonNamesTheFile) {
  expectError("{\"model\": {\"type\": \"BPE\", ", "malformed JSON");
  expectError("[1, 2, 3]", "not an object");
  // A number past double's range (found by the fuzzer: it escaped as an
  // uncaught exception).
  expectError("{\"version\": 1e999999}", "malformed JSON");
}

TEST(TinyTokenizer, MissingFileNamesTheFile) {
  std::string path = freshDir() + "/absent.json";
  try {
    convertTokenizerJson(path);
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST(TinyTokenizer, NonBpeModelNamesFileAndField) {
  json t = tinyTokenizer();
  t["model"] = json::parse(
      R"({"type": "Unigram", "unk_id": 3, "vocab": [["<unk>", 0.0]]})");
  expectError(t.dump(), "'model.type'");
  expectError(t.dump(), "Unigram");
  t["model"] = json::parse(R"({"type": "WordPiece", "vocab": {}})");
  expectError(t.dump(), "'model.type'");
}

TEST(TinyTokenizer, UnrepresentableFieldsAreNamed) {
  json t = tinyTokenizer();
  t["normalizer"] = json::parse(R"({"type": "NFKC"})");
  expectError(t.dump(), "'normalizer.type'");

  t = tinyTokenizer();
  t["normalizer"] = nullptr;
  expectError(t.dump(), "'normalizer'");

  t = tinyTokenizer();
  t["pre_tokenizer"] = json::parse(R"({"type": "ByteLevel"})");
  expectError(t.dump(), "'pre_tokenizer'");

  t = tinyTokenizer();
  t["added_tokens"][4]["lstrip"] = true;
  expectError(t.dump(), "'added_tokens[4].lstrip'");

  t = tinyTokenizer();
  t["model"]["merges"].push_back(json::array({"b", "b"}));
  expectError(t.dump(), "'model.merges[4]'");

  t = tinyTokenizer();
  t["model"]["vocab"]["a"] = 99; // ids must be 0..11
  expectError(t.dump(), "'model.vocab[\"a\"]'");

  t = tinyTokenizer();
  t["model"]["byte_fallback"] = true; // but no <0x00>.. pieces
  expectError(t.dump(), "'model.byte_fallback'");

  t = tinyTokenizer();
  t["post_processor"]["single"][0]["SpecialToken"]["id"] = "<eos>";
  expectError(t.dump(), "'post_processor.single[0].SpecialToken.id'");
}

} // namespace
