// TextTest.cpp - the tokenizer, the chat template and the sampler, against
// the shared fixtures (tokenizer/cases.json, generation.json: Hugging Face's
// ids for the published Gemma 3 tokenizer and chat template).

#include "runtime/Chat.h"
#include "runtime/Sampler.h"
#include "runtime/Tokenizer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <stdexcept>

using namespace gemma;

namespace {

const std::string kFixtures = std::string(GEMMA_SHARED_DIR) + "/fixtures";

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw std::runtime_error(path + ": cannot open");
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

nlohmann::json readJson(const std::string &path) {
  return nlohmann::json::parse(readFile(path));
}

// Loaded once: the model has 262144 pieces.
const Tokenizer &gemmaTokenizer() {
  static const Tokenizer tokenizer(
      readFile(kFixtures + "/tokenizer/gemma3-tokenizer.model"),
      "gemma3-tokenizer.model");
  return tokenizer;
}

std::vector<int32_t> idsOf(const nlohmann::json &array) {
  return array.get<std::vector<int32_t>>();
}

std::vector<ChatMessage> messagesOf(const nlohmann::json &array) {
  std::vector<ChatMessage> messages;
  for (const auto &message : array)
    messages.push_back({message["role"], message["content"]});
  return messages;
}

// --- tokenizer -------------------------------------------------------------

TEST(Tokenizer, EveryFixtureCaseGivesHuggingFacesIds) {
  const Tokenizer &tokenizer = gemmaTokenizer();
  nlohmann::json cases = readJson(kFixtures + "/tokenizer/cases.json");
  ASSERT_GE(cases["cases"].size(), 100u);
  for (const auto &item : cases["cases"]) {
    std::string text = item["text"];
    EXPECT_EQ(tokenizer.encode(text), idsOf(item["ids"])) << text;
  }
}

TEST(Tokenizer, DecodeInvertsEncodeOnEveryCase) {
  const Tokenizer &tokenizer = gemmaTokenizer();
  nlohmann::json cases = readJson(kFixtures + "/tokenizer/cases.json");
  for (const auto &item : cases["cases"]) {
    std::string text = item["text"];
    EXPECT_EQ(tokenizer.decode(tokenizer.encode(text)), text);
  }
}

TEST(Tokenizer, SpecialTokensHaveTheSpecsIds) {
  const Tokenizer &tokenizer = gemmaTokenizer();
  EXPECT_EQ(tokenizer.size(), 262145); // 262144 pieces + <image_soft_token>
  std::map<std::string, int32_t> expected = {{"<pad>", 0},
                                             {"<eos>", 1},
                                             {"<bos>", 2},
                                             {"<unk>", 3},
                                             {"<start_of_turn>", 105},
                                             {"<end_of_turn>", 106},
                                             {"<start_of_image>", 255999},
                                             {"<end_of_image>", 256000},
                                             {"<image_soft_token>", 262144}};
  for (const auto &[name, id] : expected)
    EXPECT_EQ(tokenizer.specialId(name), id) << name;
  EXPECT_EQ(tokenizer.specialId("<no_such_token>"), -1);
  EXPECT_EQ(tokenizer.encode("\n\n"), (std::vector<int32_t>{108}));
}

TEST(Tokenizer, SpecialTokensInTextAreSingleIds) {
  const Tokenizer &tokenizer = gemmaTokenizer();
  // <image_soft_token> lies beyond the SentencePiece model: only the split
  // before encoding can produce it.
  EXPECT_EQ(tokenizer.encode("<start_of_image><image_soft_token>"
                             "<image_soft_token><end_of_image>"),
            (std::vector<int32_t>{255999, 262144, 262144, 256000}));
  std::vector<int32_t> around = tokenizer.encode("a<image_soft_token> b");
  std::vector<int32_t> expected = tokenizer.encode("a");
  expected.push_back(262144);
  for (int32_t id : tokenizer.encode(" b"))
    expected.push_back(id);
  EXPECT_EQ(around, expected);
  EXPECT_EQ(tokenizer.decode(around), "a<image_soft_token> b");
  // Near misses stay text.
  std::vector<int32_t> nearMiss = tokenizer.encode("<start_of_turn <end_of");
  for (int32_t id : nearMiss)
    EXPECT_TRUE(id != 105 && id != 106) << id;
  EXPECT_EQ(tokenizer.decode(nearMiss), "<start_of_turn <end_of");
}

TEST(Tokenizer, ControlTokensNeverComeFromText) {
  const Tokenizer &tokenizer = gemmaTokenizer();
  for (const char *text : {"<bos>", "<eos>", "<pad>", "x<bos>y"}) {
    std::vector<int32_t> ids = tokenizer.encode(text);
    ASSERT_FALSE(ids.empty()) << text;
    for (int32_t id : ids)
      EXPECT_GT(id, 2) << text;
    EXPECT_EQ(tokenizer.decode(ids), text);
  }
  // As ids, control tokens decode to nothing.
  EXPECT_EQ(tokenizer.decode({2, 1, 0}), "");
  EXPECT_TRUE(tokenizer.encode("").empty());
}

TEST(Tokenizer, StreamDecoderHoldsBackPartialCharacters) {
  const Tokenizer &tokenizer = gemmaTokenizer();
  nlohmann::json cases = readJson(kFixtures + "/tokenizer/cases.json");
  int splitCharacters = 0;
  for (const auto &item : cases["cases"]) {
    std::string text = item["text"];
    StreamDecoder decoder(tokenizer);
    std::string streamed;
    for (int32_t id : tokenizer.encode(text)) {
      std::string part = decoder.push(id);
      // Every piece printed on its own must be whole UTF-8 characters: no
      // lead byte without all its continuation bytes.
      if (!part.empty()) {
        EXPECT_EQ(tokenizer.decode(tokenizer.encode(part)), part);
        EXPECT_EQ(part.find("\xEF\xBF\xBD"), std::string::npos) << text;
      } else if (!tokenizer.pieceBytes(id).empty()) {
        ++splitCharacters;
      }
      streamed += part;
    }
    EXPECT_EQ(decoder.finish(), "");
    EXPECT_EQ(streamed, text);
  }
  // The emoji and CJK cases use byte-fallback pieces, so some ids end in
  // the middle of a character.
  EXPECT_GT(splitCharacters, 0);
}

TEST(Tokenizer, StreamDecoderByteFallback) {
  const Tokenizer &tokenizer = gemmaTokenizer();
  // "€" = E2 82 AC as three byte pieces.
  int32_t e2 = -1, x82 = -1, xac = -1;
  for (int32_t id = 0; id < 512; ++id) {
    std::string bytes = tokenizer.pieceBytes(id);
    if (bytes == "\xE2")
      e2 = id;
    if (bytes == "\x82")
      x82 = id;
    if (bytes == "\xAC")
      xac = id;
  }
  ASSERT_TRUE(e2 >= 0 && x82 >= 0 && xac >= 0);
  StreamDecoder decoder(tokenizer);
  EXPECT_EQ(decoder.push(e2), "");
  EXPECT_EQ(decoder.push(x82), "");
  EXPECT_EQ(decoder.push(xac), "\xE2\x82\xAC");
  EXPECT_EQ(tokenizer.decode({e2, x82, xac}), "\xE2\x82\xAC");
  // A sequence broken off shows as U+FFFD, like SentencePiece's decode.
  int32_t a = tokenizer.encode("a")[0];
  EXPECT_EQ(decoder.push(e2), "");
  EXPECT_EQ(decoder.push(a), "\xEF\xBF\xBD"
                             "a");
  EXPECT_EQ(tokenizer.decode({e2, a}), "\xEF\xBF\xBD"
                                       "a");
  EXPECT_EQ(decoder.push(e2), "");
  EXPECT_EQ(decoder.finish(), "\xEF\xBF\xBD");
  // Ids beyond the tokenizer (padding rows of a larger vocabulary) print
  // nothing.
  EXPECT_EQ(decoder.push(262200), "");
  EXPECT_EQ(tokenizer.decode({a, 262200, a}), "aa");
}

TEST(Tokenizer, RejectsWhatIsNotAModel) {
  try {
    Tokenizer tokenizer("definitely not a protobuf", "bogus.model");
    FAIL() << "no error";
  } catch (const std::runtime_error &e) {
    EXPECT_EQ(std::string(e.what()).find("bogus.model: not a SentencePiece "
                                         "model"),
              0u)
        << e.what();
  }
}

// --- chat template ---------------------------------------------------------

TEST(Chat, FixtureChatsGiveTheTemplatesIds) {
  const Tokenizer &tokenizer = gemmaTokenizer();
  nlohmann::json generation = readJson(kFixtures + "/generation.json");
  ASSERT_EQ(generation["chat"].size(), 2u);
  for (const auto &item : generation["chat"]) {
    std::vector<ChatMessage> messages = messagesOf(item["messages"]);
    std::string text = item["text"];
    ASSERT_EQ(text.rfind("<bos>", 0), 0u);
    EXPECT_EQ(renderChatText(messages, true), text.substr(5));
    EXPECT_EQ(renderChatIds(tokenizer, 2, messages, true), idsOf(item["ids"]));
  }
}

// The multi-turn fixture built a turn at a time, as a chat does: the
// model's reply goes in as ids.
TEST(Chat, ConversationGrowsIntoTheTemplatesIds) {
  const Tokenizer &tokenizer = gemmaTokenizer();
  nlohmann::json item = readJson(kFixtures + "/generation.json")["chat"][1];
  ASSERT_FALSE(item.is_null());
  std::vector<ChatMessage> messages = messagesOf(item["messages"]);
  ASSERT_EQ(messages.size(), 3u);
  ASSERT_EQ(messages[1].role, "assistant");

  Conversation conversation(tokenizer, 2, "");
  EXPECT_TRUE(conversation.empty());
  std::vector<int32_t> first = conversation.userTurnIds(messages[0].content);
  EXPECT_EQ(first, renderChatIds(tokenizer, 2, {messages[0]}, true));
  conversation.addUserTurn(messages[0].content);
  EXPECT_EQ(conversation.ids(), first);
  conversation.addModelReply(tokenizer.encode(messages[1].content));
  // A later turn has no <bos>.
  std::vector<int32_t> third = conversation.userTurnIds(messages[2].content);
  EXPECT_EQ(third.front(), 105);
  conversation.addUserTurn(messages[2].content);
  EXPECT_EQ(conversation.ids(), idsOf(item["ids"]));

  conversation.clear();
  EXPECT_TRUE(conversation.empty());
  EXPECT_EQ(conversation.userTurnIds(messages[0].content), first);
}

// SPEC §7: the system text goes into the first user turn as
// "{system}\n\n{user}". Built from the fixture's single-turn ids, so that
// only the system part is ours: "\n\n" is id 108.
TEST(Chat, SystemTextGoesIntoTheFirstUserTurn) {
  const Tokenizer &tokenizer = gemmaTokenizer();
  nlohmann::json single = readJson(kFixtures + "/generation.json")["chat"][0];
  std::vector<int32_t> plain = idsOf(single["ids"]);
  std::string system = "You are a helpful assistant.";
  std::vector<int32_t> expected(plain.begin(), plain.begin() + 4);
  ASSERT_EQ(expected, (std::vector<int32_t>{2, 105, 2364, 107}));
  for (int32_t id : tokenizer.encode(system))
    expected.push_back(id);
  expected.push_back(108);
  expected.insert(expected.end(), plain.begin() + 4, plain.end());

  std::vector<ChatMessage> messages = {
      {"system", system}, {"user", single["messages"][0]["content"]}};
  EXPECT_EQ(renderChatText(messages, true),
            "<start_of_turn>user\nYou are a helpful assistant.\n\nWhat is the "
            "capital of France?<end_of_turn>\n<start_of_turn>model\n");
  EXPECT_EQ(renderChatIds(tokenizer, 2, messages, true), expected);

  Conversation conversation(tokenizer, 2, system);
  conversation.addUserTurn(messages[1].content);
  EXPECT_EQ(conversation.ids(), expected);
  // Only the first turn carries it.
  conversation.addModelReply(tokenizer.encode("Paris."));
  std::vector<int32_t> next = conversation.userTurnIds("And Spain?");
  EXPECT_EQ(next, tokenizer.encode("<start_of_turn>user\nAnd Spain?"
                                   "<end_of_turn>\n<start_of_turn>model\n"));
}

TEST(Chat, ContentsAreTrimmedAndRolesMustAlternate) {
  EXPECT_EQ(renderChatText({{"user", "  hi \n"}}, false),
            "<start_of_turn>user\nhi<end_of_turn>\n");
  EXPECT_EQ(renderChatText({{"user", "a"}, {"model", "b"}}, false),
            "<start_of_turn>user\na<end_of_turn>\n<start_of_turn>model\n"
            "b<end_of_turn>\n");
  EXPECT_THROW(renderChatText({{"model", "a"}}, true), std::invalid_argument);
  EXPECT_THROW(renderChatText({{"user", "a"}, {"user", "b"}}, true),
               std::invalid_argument);
  EXPECT_THROW(renderChatText({{"user", "a"}, {"system", "b"}}, true),
               std::invalid_argument);
}

// --- sampler ---------------------------------------------------------------

std::vector<float> randomLogits(int64_t vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0, 2);
  std::vector<float> logits(vocab);
  for (float &value : logits)
    value = normal(rng);
  return logits;
}

TEST(Sampler, GreedyIsArgmaxWithTheFirstOnTies) {
  Sampler greedy({/*temperature=*/0, 64, 0.95, 1});
  for (uint64_t seed = 0; seed < 20; ++seed) {
    std::vector<float> logits = randomLogits(1000, seed);
    int32_t best = static_cast<int32_t>(
        std::max_element(logits.begin(), logits.end()) - logits.begin());
    EXPECT_EQ(greedy.sample(logits.data(), 1000), best);
  }
  std::vector<float> tied = {1, 5, 3, 5};
  EXPECT_EQ(greedy.sample(tied.data(), 4), 1);
  EXPECT_EQ(argmax(tied.data(), 4), 1);
}

// argmax keeps lanes over blocks of 16 and a scalar tail: ties, the
// maximum and a NaN at every index of small vocabularies (every lane and
// block, and the tail), against the plain first-maximum loop.
TEST(Sampler, ArgmaxIsTheFirstMaximumWhereverItFalls) {
  auto firstMaximum = [](const std::vector<float> &logits) {
    int32_t best = 0;
    for (size_t i = 1; i < logits.size(); ++i)
      if (logits[i] > logits[best])
        best = static_cast<int32_t>(i);
    return best;
  };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::mt19937_64 rng(5);
  for (int64_t vocab : {1, 3, 15, 16, 17, 31, 40, 64, 100, 262144}) {
    for (int trial = 0; trial < 40; ++trial) {
      // Few distinct values, so ties across lanes and blocks are common.
      std::vector<float> logits(static_cast<size_t>(vocab));
      for (float &value : logits)
        value = static_cast<float>(rng() % 4) - 8;
      EXPECT_EQ(argmax(logits.data(), vocab), firstMaximum(logits))
          << "vocab " << vocab << ", trial " << trial;
    }
    if (vocab > 100)
      continue;
    std::vector<float> low(static_cast<size_t>(vocab),
                           -std::numeric_limits<float>::infinity());
    EXPECT_EQ(argmax(low.data(), vocab), 0) << "all -inf, vocab " << vocab;
    std::vector<float> ramp(static_cast<size_t>(vocab));
    for (int64_t i = 0; i < vocab; ++i)
      ramp[i] = static_cast<float>(i % 7);
    for (int64_t at = 0; at < vocab; ++at) {
      low[at] = 1;
      EXPECT_EQ(argmax(low.data(), vocab), at) << "vocab " << vocab;
      low[at] = -std::numeric_limits<float>::infinity();
      // A NaN among finite values is passed over wherever it is.
      std::vector<float> withNan = ramp;
      withNan[at] = nan;
      std::vector<float> withoutNan = ramp;
      withoutNan[at] = -1;
      EXPECT_EQ(argmax(withNan.data(), vocab), firstMaximum(withoutNan))
          << "a NaN at " << at << ", vocab " << vocab;
    }
  }
}

TEST(Sampler, TopKOneAndTinyTopPAreGreedy) {
  Sampler topK1({/*temperature=*/1.5, /*topK=*/1, 1.0, 7});
  Sampler tinyTopP({/*temperature=*/1.5, /*topK=*/0, /*topP=*/1e-6, 7});
  for (uint64_t seed = 0; seed < 50; ++seed) {
    std::vector<float> logits = randomLogits(5000, seed);
    int32_t best = argmax(logits.data(), 5000);
    EXPECT_EQ(topK1.sample(logits.data(), 5000), best);
    EXPECT_EQ(tinyTopP.sample(logits.data(), 5000), best);
  }
}

TEST(Sampler, SameSeedSameSequence) {
  std::vector<float> logits = randomLogits(300, 3);
  auto run = [&](uint64_t seed) {
    Sampler sampler({1.0, 40, 0.9, seed});
    std::vector<int32_t> ids;
    for (int i = 0; i < 200; ++i)
      ids.push_back(sampler.sample(logits.data(), 300));
    return ids;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
  std::vector<int32_t> ids = run(42);
  EXPECT_GT(std::set<int32_t>(ids.begin(), ids.end()).size(), 5u)
      << "temperature 1 over a spread of logits should vary";
}

// Frequencies over many draws follow softmax(logits / T) within sampling
// noise, for each temperature; a higher temperature flattens them.
TEST(Sampler, TemperatureShapesTheDistribution) {
  const std::vector<float> logits = {2.0f, 1.0f, 0.0f, -1.0f};
  const int draws = 40000;
  double topShare[3];
  const double temperatures[3] = {0.5, 1.0, 2.0};
  for (int t = 0; t < 3; ++t) {
    Sampler sampler({temperatures[t], 0, 1.0, 1234});
    std::vector<int> counts(4, 0);
    for (int i = 0; i < draws; ++i)
      ++counts[sampler.sample(logits.data(), 4)];
    double total = 0;
    for (float l : logits)
      total += std::exp(l / temperatures[t]);
    for (int i = 0; i < 4; ++i) {
      double expected = std::exp(logits[i] / temperatures[t]) / total;
      double sigma = std::sqrt(expected * (1 - expected) / draws);
      EXPECT_NEAR(counts[i] / double(draws), expected, 5 * sigma + 1e-4)
          << "T=" << temperatures[t] << " id " << i;
    }
    topShare[t] = counts[0] / double(draws);
  }
  EXPECT_GT(topShare[0], topShare[1]);
  EXPECT_GT(topShare[1], topShare[2]);
}

TEST(Sampler, TopKAndTopPRestrictTheCandidates) {
  // Probabilities at T=1: about 0.64, 0.24, 0.09, 0.03.
  const std::vector<float> logits = {2.0f, 1.0f, 0.0f, -1.0f};
  Sampler topK2({1.0, 2, 1.0, 5});
  Sampler topP80({1.0, 0, 0.8, 5}); // 0.64 < 0.8: the second one is kept
  std::set<int32_t> seenK, seenP;
  for (int i = 0; i < 5000; ++i) {
    seenK.insert(topK2.sample(logits.data(), 4));
    seenP.insert(topP80.sample(logits.data(), 4));
  }
  EXPECT_EQ(seenK, (std::set<int32_t>{0, 1}));
  EXPECT_EQ(seenP, (std::set<int32_t>{0, 1}));
}

// The nucleus computed by brute force (a full sort) holds every sample, and
// one larger than the sampler's first sorted prefix (256) is reached too.
TEST(Sampler, TopPMatchesABruteForceNucleus) {
  const int64_t vocab = 2000;
  std::vector<float> logits = randomLogits(vocab, 11);
  for (double topP : {0.3, 0.9}) {
    std::vector<std::pair<double, int32_t>> order;
    double total = 0;
    for (int64_t i = 0; i < vocab; ++i) {
      order.push_back({std::exp(double(logits[i])), int32_t(i)});
      total += order.back().first;
    }
    std::sort(order.begin(), order.end(),
              [](const auto &a, const auto &b) { return a.first > b.first; });
    std::set<int32_t> nucleus;
    double before = 0;
    for (const auto &[weight, id] : order) {
      if (!nucleus.empty() && before >= topP * total)
        break;
      nucleus.insert(id);
      before += weight;
    }
    Sampler sampler({1.0, 0, topP, 99});
    std::set<int32_t> seen;
    for (int i = 0; i < 4000; ++i)
      seen.insert(sampler.sample(logits.data(), vocab));
    for (int32_t id : seen)
      EXPECT_TRUE(nucleus.count(id)) << "top-p " << topP << ": id " << id;
    if (topP == 0.9) {
      EXPECT_GT(nucleus.size(), 256u);
      EXPECT_GT(seen.size(), 256u);
    }
  }
}

TEST(Sampler, RejectsBadOptions) {
  EXPECT_THROW(Sampler({-0.1, 0, 1.0, 0}), std::invalid_argument);
  EXPECT_THROW(Sampler({1.0, -1, 1.0, 0}), std::invalid_argument);
  EXPECT_THROW(Sampler({1.0, 0, 0.0, 0}), std::invalid_argument);
  EXPECT_THROW(Sampler({1.0, 0, 1.5, 0}), std::invalid_argument);
}

} // namespace
