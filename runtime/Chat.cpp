// Chat.cpp - the Gemma 3 chat template and a conversation kept in the caches.

#include "runtime/Chat.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace gemma {
namespace {

// Jinja's `trim` (Python's str.strip()) for the whitespace a chat message
// carries around it.
std::string trim(const std::string &text) {
  const char *space = " \t\n\r\v\f";
  size_t first = text.find_first_not_of(space);
  if (first == std::string::npos)
    return "";
  return text.substr(first, text.find_last_not_of(space) - first + 1);
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

std::vector<int32_t> Conversation::userTurnIds(const std::string &text) const {
  std::vector<int32_t> ids;
  std::string prefix;
  if (allIds.empty()) {
    ids.push_back(bosId);
    if (!system.empty())
      prefix = system + "\n\n";
  }
  // The turn starts with a special token, so tokenizing it on its own gives
  // the ids that tokenizing the whole conversation's text would.
  std::vector<int32_t> turn =
      tokenizer.encode(userTurnText(prefix, text) + kModelTurnOpening);
  ids.insert(ids.end(), turn.begin(), turn.end());
  return ids;
}

void Conversation::addUserTurn(const std::string &text) {
  std::vector<int32_t> turn = userTurnIds(text);
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

std::vector<int32_t> ChatSession::pendingIds(const std::string &text) const {
  const std::vector<int32_t> &held = chat.ids();
  if (model.position() > static_cast<int64_t>(held.size()))
    throw std::logic_error("the model's caches hold more than the "
                           "conversation; was the model used elsewhere?");
  std::vector<int32_t> ids(held.begin() + model.position(), held.end());
  std::vector<int32_t> turn = chat.userTurnIds(text);
  ids.insert(ids.end(), turn.begin(), turn.end());
  return ids;
}

std::string ChatSession::problem(const std::string &text,
                                 const GenerationOptions &options) const {
  return contextProblem(model.info(), model.position(),
                        static_cast<int64_t>(pendingIds(text).size()),
                        options.maxTokens);
}

GenerationResult ChatSession::send(const std::string &text,
                                   const GenerationOptions &options,
                                   const Generator::TokenCallback &onToken) {
  std::vector<int32_t> prompt = pendingIds(text);
  // Generator::generate refuses before running anything, so a turn that
  // does not fit leaves the conversation and the caches as they were.
  GenerationResult result = generator.generate(prompt, options, onToken);
  chat.addUserTurn(text);
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
