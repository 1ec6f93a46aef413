// Chat.cpp - the Gemma 3 chat template and a conversation kept in the caches.

#include "runtime/Chat.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace gemma {
namespace {

// The code point of the UTF-8 character starting at text[at] and its length
// in bytes; (0xFFFD, 1) for a byte that starts no valid character.
std::pair<uint32_t, size_t> decodeAt(const std::string &text, size_t at) {
  size_t length = utf8CharLength(text, at);
  if (length == 0)
    return {0xFFFD, 1};
  auto lead = static_cast<unsigned char>(text[at]);
  uint32_t cp = length == 1 ? lead : lead & (0x7F >> length);
  for (size_t i = 1; i < length; ++i)
    cp = (cp << 6) | (static_cast<unsigned char>(text[at + i]) & 0x3F);
  return {cp, length};
}

// Python's str.isspace(), which Jinja's `trim` (str.strip()) uses: the
// characters of bidirectional class WS, B or S, or category Zs.
bool isPythonSpace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) ||
         cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

// Jinja's `trim`, as the published template applies it to message
// contents: every Unicode whitespace character around the text goes.
std::string trim(const std::string &text) {
  size_t begin = 0;
  while (begin < text.size()) {
    auto [cp, length] = decodeAt(text, begin);
    if (!isPythonSpace(cp))
      break;
    begin += length;
  }
  size_t end = begin;
  for (size_t at = begin; at < text.size();) {
    auto [cp, length] = decodeAt(text, at);
    at += length;
    if (!isPythonSpace(cp))
      end = at;
  }
  return text.substr(begin, end - begin);
}

std::string userTurnText(const std::string &prefix, const std::string &text) {
  return "<start_of_turn>user\n" + prefix + trim(text) + "<end_of_turn>\n";
}

constexpr const char *kModelTurnOpening = "<start_of_turn>model\n";
constexpr const char *kTurnClosing = "<end_of_turn>\n";

} // namespace

std::string renderChatText(const std::vector<ChatMessage> &messages,
                           bool addGenerationPrompt) {
  size_t first = 0;
  std::string firstUserPrefix;
  if (!messages.empty() && messages[0].role == "system") {
    firstUserPrefix = messages[0].content + "\n\n";
    first = 1;
  }
  std::string text;
  for (size_t i = first; i < messages.size(); ++i) {
    const ChatMessage &message = messages[i];
    bool userExpected = (i - first) % 2 == 0;
    bool isUser = message.role == "user";
    bool isModel = message.role == "model" || message.role == "assistant";
    if (!isUser && !isModel)
      throw std::invalid_argument("chat message " + std::to_string(i) +
                                  " has role '" + message.role +
                                  "'; expected user, model or assistant");
    if (isUser != userExpected)
      throw std::invalid_argument(
          "chat roles must alternate user/model starting with user; message " +
          std::to_string(i) + " is '" + message.role + "'");
    if (isUser)
      text += userTurnText(i == first ? firstUserPrefix : "", message.content);
    else
      text += "<start_of_turn>model\n" + trim(message.content) + kTurnClosing;
  }
  if (addGenerationPrompt)
    text += kModelTurnOpening;
  return text;
}

std::vector<int32_t> renderChatIds(const Tokenizer &tokenizer, int32_t bosId,
                                   const std::vector<ChatMessage> &messages,
                                   bool addGenerationPrompt) {
  std::vector<int32_t> ids = {bosId};
  std::vector<int32_t> rest =
      tokenizer.encode(renderChatText(messages, addGenerationPrompt));
  ids.insert(ids.end(), rest.begin(), rest.end());
  return ids;
}

Conversation::Conversation(const Tokenizer &tokenizer, int32_t bosId,
                           std::string system)
    : tokenizer(tokenizer), bosId(bosId), system(std::move(system)) {}

std::vector<int32_t>
Conversation::userTurnIds(const std::string &text,
                          const PromptImages *images) const {
  std::vector<int32_t> ids;
  std::string prefix;
  if (allIds.empty()) {
    ids.push_back(bosId);
    if (!system.empty())
      prefix = system + "\n\n";
  }
  // The turn starts with a special token, so tokenizing it on its own gives
  // the ids that tokenizing the whole conversation's text would.
  std::string turnText =
      userTurnText(prefix, images && !images->empty()
                               ? placeImageMarkers(text, *images)
                               : text) +
      kModelTurnOpening;
  std::vector<int32_t> turn;
  if (images && !images->empty())
    turn = insertSoftTokens(
        tokenizer.encode(expandImageMarkers(turnText, *images)),
        images->vision);
  else
    turn = tokenizer.encode(turnText);
  ids.insert(ids.end(), turn.begin(), turn.end());
  return ids;
}

void Conversation::addUserTurn(const std::string &text,
                               const PromptImages *images) {
  std::vector<int32_t> turn = userTurnIds(text, images);
  allIds.insert(allIds.end(), turn.begin(), turn.end());
}

void Conversation::addModelReply(const std::vector<int32_t> &replyIds) {
  allIds.insert(allIds.end(), replyIds.begin(), replyIds.end());
  std::vector<int32_t> closing = tokenizer.encode(kTurnClosing);
  allIds.insert(allIds.end(), closing.begin(), closing.end());
}

ChatSession::ChatSession(Model &model, Generator &generator,
                         Conversation &conversation)
    : model(model), generator(generator), chat(conversation) {}

std::vector<int32_t> ChatSession::pendingIds(const std::string &text,
                                             const PromptImages *images) const {
  const std::vector<int32_t> &held = chat.ids();
  if (model.position() > static_cast<int64_t>(held.size()))
    throw std::logic_error("the model's caches hold more than the "
                           "conversation; was the model used elsewhere?");
  std::vector<int32_t> ids(held.begin() + model.position(), held.end());
  std::vector<int32_t> turn = chat.userTurnIds(text, images);
  ids.insert(ids.end(), turn.begin(), turn.end());
  return ids;
}

std::string ChatSession::problem(const std::string &text,
                                 const GenerationOptions &options,
                                 const PromptImages *images) const {
  return contextProblem(model.info(), model.position(),
                        static_cast<int64_t>(pendingIds(text, images).size()),
                        options.maxTokens);
}

GenerationResult ChatSession::send(const std::string &text,
                                   const GenerationOptions &options,
                                   const Generator::TokenCallback &onToken,
                                   const PromptImages *images,
                                   const std::vector<float> *imageFeatures) {
  std::vector<int32_t> prompt = pendingIds(text, images);
  // Generator::generate refuses before running anything, so a turn that
  // does not fit leaves the conversation and the caches as they were.
  GenerationResult result =
      generator.generate(prompt, options, onToken, imageFeatures);
  chat.addUserTurn(text, images);
  std::vector<int32_t> reply = result.ids;
  if (result.stopReason == StopReason::StopToken)
    reply.pop_back();
  chat.addModelReply(reply);
  return result;
}

void ChatSession::restart() {
  chat.clear();
  model.reset();
}

} // namespace gemma
