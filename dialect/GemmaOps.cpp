//===- GemmaOps.cpp - gemma dialect operation verifiers and folders -------===//

#include "dialect/GemmaOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace mlir::gemma;

#define GET_OP_CLASSES
#include "dialect/GemmaOps.cpp.inc"

namespace {
// Dimension sizes agree unless both are known and differ.
bool dimsAgree(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

RankedTensorType tensorType(Value value) {
  return cast<RankedTensorType>(value.getType());
}

std::string shapeString(ArrayRef<int64_t> shape) {
  std::string text = "[";
  llvm::raw_string_ostream os(text);
  llvm::interleave(
      shape, os,
      [&](int64_t d) {
        if (ShapedType::isDynamic(d))
          os << '?';
        else
          os << d;
      },
      ", ");
  os << ']';
  return text;
}

LogicalResult checkRank(Operation *op, StringRef what, Value value,
                        int64_t rank) {
  if (tensorType(value).getRank() != rank)
    return op->emitOpError()
           << what << " must have rank " << rank << ", got " << value.getType();
  return success();
}

LogicalResult checkDim(Operation *op, StringRef what, int64_t actual,
                       StringRef expectedWhat, int64_t expected) {
  if (!dimsAgree(actual, expected))
    return op->emitOpError() << what << " (" << actual << ") must equal "
                             << expectedWhat << " (" << expected << ")";
  return success();
}

LogicalResult checkPositive(Operation *op, StringRef what, float value) {
  if (!(value > 0.0f))
    return op->emitOpError() << what << " must be > 0, got " << value;
  return success();
}
} // namespace

//===----------------------------------------------------------------------===//
// Weights
//===----------------------------------------------------------------------===//

namespace {
// Blob and arena offsets are kBufferAlignment-aligned so that kernels may
// use aligned vector loads.
LogicalResult verifyOffset(Operation *op, StringRef name,
                           std::optional<int64_t> offset) {
  if (offset && (*offset < 0 || *offset % kBufferAlignment != 0))
    return op->emitOpError()
           << "'" << name << "' offset must be a non-negative multiple of "
           << kBufferAlignment << ", got " << *offset;
  return success();
}

// A reference (gemma.weight, gemma.cache) must name a declaration of its kind
// with the same type.
template <typename DeclOp>
LogicalResult verifyReference(Operation *op, FlatSymbolRefAttr name, Type type,
                              SymbolTableCollection &symbolTable) {
  auto decl = symbolTable.lookupNearestSymbolFrom<DeclOp>(op, name);
  if (!decl)
    return op->emitOpError()
           << name << " does not name a " << DeclOp::getOperationName();
  if (decl.getType() != type)
    return op->emitOpError()
           << "type " << type << " does not match the declaration of " << name
           << ": " << decl.getType();
  return success();
}
} // namespace

LogicalResult WeightDeclOp::verify() {
  RankedTensorType type = getTensorType();
  if (!type.hasStaticShape())
    return emitOpError() << "weight '" << getSymName()
                         << "' must have a static shape, got " << type;
  return verifyOffset(*this, getSymName(), getOffset());
}

LogicalResult
WeightDeclOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  std::optional<ArrayAttr> parts = getParts();
  if (!parts)
    return success();
  RankedTensorType type = getTensorType();
  int64_t rows = 0;
  for (Attribute attr : *parts) {
    auto ref = cast<FlatSymbolRefAttr>(attr);
    auto part = symbolTable.lookupNearestSymbolFrom<WeightDeclOp>(*this, ref);
    if (!part)
      return emitOpError() << "part " << ref << " of '" << getSymName()
                           << "' is not a declared weight";
    if (part.getParts())
      return emitOpError() << "part " << ref << " is itself fused";
    RankedTensorType partType = part.getTensorType();
    if (partType.getElementType() != type.getElementType() ||
        partType.getRank() != type.getRank() ||
        partType.getShape().drop_front() != type.getShape().drop_front())
      return emitOpError() << "part " << ref << " (" << partType
                           << ") does not stack into " << type;
    rows += partType.getDimSize(0);
  }
  return checkDim(*this, "rows", type.getDimSize(0), "rows of the parts", rows);
}

LogicalResult GeGLUOp::verify() {
  if (failed(checkRank(*this, "input [tokens, 2 x intermediate]", getInput(),
                       2)) ||
      failed(checkRank(*this, "result [tokens, intermediate]", getResult(), 2)))
    return failure();
  ArrayRef<int64_t> in = tensorType(getInput()).getShape();
  ArrayRef<int64_t> out = tensorType(getResult()).getShape();
  if (in[1] % 2 != 0)
    return emitOpError() << "input width " << in[1]
                         << " must be even (gate columns, then up columns)";
  if (in[0] != out[0])
    return emitOpError() << "result rows must equal the input rows";
  return checkDim(*this, "result width", out[1], "half the input width",
                  in[1] / 2);
}

LogicalResult WeightOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  return verifyReference<WeightDeclOp>(*this, getNameAttr(), getType(),
                                       symbolTable);
}

LogicalResult CacheDeclOp::verify() {
  return verifyOffset(*this, getSymName(), getOffset());
}

LogicalResult CacheOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  return verifyReference<CacheDeclOp>(*this, getNameAttr(), getType(),
                                      symbolTable);
}

//===----------------------------------------------------------------------===//
// Text decoder
//===----------------------------------------------------------------------===//

LogicalResult EmbedOp::verify() {
  if (failed(checkRank(*this, "table", getTable(), 2)) ||
      failed(checkRank(*this, "result", getResult(), 2)))
    return failure();
  ArrayRef<int64_t> result = tensorType(getResult()).getShape();
  if (failed(checkDim(*this, "result rows", result[0], "number of ids",
                      tensorType(getIds()).getDimSize(0))) ||
      failed(checkDim(*this, "result width", result[1], "embedding width",
                      tensorType(getTable()).getDimSize(1))))
    return failure();
  return checkPositive(*this, "scale", getScale().convertToFloat());
}

static LogicalResult verifyNormParameter(Operation *op, StringRef what,
                                         Value input, Value param) {
  RankedTensorType inputType = tensorType(input);
  if (inputType.getRank() < 1)
    return op->emitOpError() << "input must have rank >= 1";
  if (failed(checkRank(op, what, param, 1)))
    return failure();
  std::string label = (what + " size").str();
  return checkDim(op, label, tensorType(param).getDimSize(0),
                  "normalised dimension", inputType.getShape().back());
}

LogicalResult RMSNormOp::verify() {
  if (failed(verifyNormParameter(*this, "weight", getInput(), getWeight())))
    return failure();
  return checkPositive(*this, "epsilon", getEpsilon().convertToFloat());
}

LogicalResult LayerNormOp::verify() {
  if (failed(verifyNormParameter(*this, "weight", getInput(), getWeight())) ||
      failed(verifyNormParameter(*this, "bias", getInput(), getBias())))
    return failure();
  return checkPositive(*this, "epsilon", getEpsilon().convertToFloat());
}

namespace {
// input [..., in] x weight [out, in] -> result [..., out].
LogicalResult verifyProjection(Operation *op, Value inputValue,
                               Value weightValue, Value resultValue) {
  RankedTensorType input = tensorType(inputValue);
  RankedTensorType result = tensorType(resultValue);
  if (failed(checkRank(op, "weight", weightValue, 2)))
    return failure();
  ArrayRef<int64_t> weight = tensorType(weightValue).getShape();
  if (input.getRank() < 1 || result.getRank() != input.getRank())
    return op->emitOpError()
           << "input and result must have the same rank >= 1, got " << input
           << " and " << result;
  if (failed(checkDim(op, "input features", input.getShape().back(),
                      "weight columns [out, in]", weight[1])) ||
      failed(checkDim(op, "result features", result.getShape().back(),
                      "weight rows [out, in]", weight[0])))
    return failure();
  for (int64_t d = 0; d + 1 < input.getRank(); ++d)
    if (!dimsAgree(input.getDimSize(d), result.getDimSize(d)))
      return op->emitOpError()
             << "result shape " << shapeString(result.getShape())
             << " must keep the leading dimensions of "
             << shapeString(input.getShape());
  return success();
}
} // namespace

LogicalResult NormedLinearOp::verify() {
  if (failed(verifyProjection(*this, getInput(), getWeight(), getResult())) ||
      failed(verifyNormParameter(*this, "norm", getInput(), getNorm())))
    return failure();
  return checkPositive(*this, "epsilon", getEpsilon().convertToFloat());
}

LogicalResult LinearOp::verify() {
  if (failed(verifyProjection(*this, getInput(), getWeight(), getResult())))
    return failure();
  ArrayRef<int64_t> weight = tensorType(getWeight()).getShape();
  if (Value bias = getBias()) {
    if (failed(checkRank(*this, "bias", bias, 1)) ||
        failed(checkDim(*this, "bias size", tensorType(bias).getDimSize(0),
                        "weight rows", weight[0])))
      return failure();
  }
  return success();
}

LogicalResult RopeOp::verify() {
  if (failed(
          checkRank(*this, "input [tokens, heads, head_dim]", getInput(), 3)))
    return failure();
  int64_t headDim = tensorType(getInput()).getDimSize(2);
  if (ShapedType::isDynamic(headDim) || headDim % 2 != 0)
    return emitOpError() << "head_dim must be static and even, got "
                         << shapeString(tensorType(getInput()).getShape());
  return success();
}

LogicalResult AttentionOp::verify() {
  if (failed(
          checkRank(*this, "query [tokens, heads, head_dim]", getQuery(), 3)) ||
      failed(checkRank(*this, "key [tokens, kv_heads, head_dim]", getKey(), 3)))
    return failure();
  ArrayRef<int64_t> q = tensorType(getQuery()).getShape();
  ArrayRef<int64_t> k = tensorType(getKey()).getShape();
  if (getKey().getType() != getValue().getType())
    return emitOpError() << "key and value must have the same type, got "
                         << getKey().getType() << " and "
                         << getValue().getType();
  if (getResult().getType() != getQuery().getType())
    return emitOpError() << "result type must equal the query type";
  if (failed(checkDim(*this, "key tokens", k[0], "query tokens", q[0])) ||
      failed(checkDim(*this, "key head_dim", k[2], "query head_dim", q[2])))
    return failure();
  if (ShapedType::isDynamic(q[1]) || ShapedType::isDynamic(k[1]) || k[1] <= 0 ||
      q[1] % k[1] != 0)
    return emitOpError() << "query heads must be a static multiple of kv "
                            "heads, got query "
                         << shapeString(q) << " and key " << shapeString(k);
  if (failed(checkPositive(*this, "scale", getScale().convertToFloat())))
    return failure();
  if (std::optional<APFloat> cap = getSoftcap();
      cap && failed(checkPositive(*this, "softcap", cap->convertToFloat())))
    return failure();

  MaskAttr mask = getMask();
  if (bool(getCache()) != bool(getPosition()))
    return emitOpError() << "a cache and a position go together";
  if (KVCacheType cache = getCacheType()) {
    if (failed(checkDim(*this, "key kv_heads", k[1], "cache kv_heads",
                        cache.getKvHeads())) ||
        failed(checkDim(*this, "key head_dim", k[2], "cache head_dim",
                        cache.getHeadDim())))
      return failure();
    if (cache.isLocal() && mask.getKind() != MaskKind::SlidingWindow)
      return emitOpError() << "a local layer's mask must be sliding_window "
                              "(over its cache's window of "
                           << *cache.getLayer().getWindow() << "), got "
                           << mask;
    if (!cache.isLocal() && mask.getKind() != MaskKind::Causal)
      return emitOpError() << "a global layer's mask must be causal, got "
                           << mask;
  } else if (mask.getKind() == MaskKind::SlidingWindow) {
    return emitOpError() << "a sliding_window mask needs the layer's local "
                            "cache";
  }
  if (bool(getImageGroups()) != mask.getImageGroups())
    return emitOpError() << "image_groups operand and the mask's image_groups "
                            "flag go together";
  if (Value groups = getImageGroups())
    return checkDim(*this, "image_groups size",
                    tensorType(groups).getDimSize(0), "query tokens", q[0]);
  return success();
}

LogicalResult CacheUpdateOp::verify() {
  if (failed(checkRank(*this, "key [tokens, kv_heads, head_dim]", getKey(), 3)))
    return failure();
  if (getKey().getType() != getValue().getType())
    return emitOpError() << "key and value must have the same type, got "
                         << getKey().getType() << " and "
                         << getValue().getType();
  auto cache = cast<KVCacheType>(getCache().getType());
  ArrayRef<int64_t> k = tensorType(getKey()).getShape();
  if (failed(checkDim(*this, "key kv_heads", k[1], "cache kv_heads",
                      cache.getKvHeads())) ||
      failed(checkDim(*this, "key head_dim", k[2], "cache head_dim",
                      cache.getHeadDim())))
    return failure();
  return success();
}

LogicalResult AttentionPrologueOp::verify() {
  if (failed(
          checkRank(*this, "query [tokens, heads, head_dim]", getQuery(), 3)) ||
      failed(checkRank(*this, "key [tokens, kv_heads, head_dim]", getKey(), 3)))
    return failure();
  if (getKey().getType() != getValue().getType())
    return emitOpError() << "key and value must have the same type, got "
                         << getKey().getType() << " and "
                         << getValue().getType();
  ArrayRef<int64_t> q = tensorType(getQuery()).getShape();
  ArrayRef<int64_t> k = tensorType(getKey()).getShape();
  KVCacheType cache = getCacheType();
  if (failed(checkDim(*this, "key tokens", k[0], "query tokens", q[0])) ||
      failed(checkDim(*this, "query head_dim", q[2], "cache head_dim",
                      cache.getHeadDim())) ||
      failed(checkDim(*this, "key kv_heads", k[1], "cache kv_heads",
                      cache.getKvHeads())) ||
      failed(checkDim(*this, "key head_dim", k[2], "cache head_dim",
                      cache.getHeadDim())))
    return failure();
  if (ShapedType::isDynamic(q[1]) || q[1] % cache.getKvHeads() != 0)
    return emitOpError() << "query heads must be a static multiple of the "
                            "cache's kv_heads ("
                         << cache.getKvHeads() << "), got " << shapeString(q);
  if (cache.getHeadDim() % 2 != 0)
    return emitOpError() << "head_dim must be even for RoPE, got "
                         << cache.getHeadDim();
  if (failed(verifyNormParameter(*this, "query norm", getQuery(),
                                 getQueryNorm())) ||
      failed(verifyNormParameter(*this, "key norm", getKey(), getKeyNorm())) ||
      failed(checkPositive(*this, "epsilon", getEpsilon().convertToFloat())))
    return failure();
  if (!cache.isLocal())
    return success();
  // The ring is written before attention reads it: it must hold the window
  // of a call's first token and all of the call's tokens.
  auto module = (*this)->getParentOfType<ModuleOp>();
  std::optional<int64_t> needed =
      module ? requiredCapacity(module, cache) : std::nullopt;
  if (!needed)
    return emitOpError() << "writes a local cache before attention reads it, "
                            "so the module must state '"
                         << kPrefillChunkAttr << "' and '" << kMaxContextAttr
                         << "'";
  if (cache.getCapacity() < *needed)
    return emitOpError()
           << "writes a local cache of capacity " << cache.getCapacity()
           << " before attention reads it: calls of up to "
           << module->getAttrOfType<IntegerAttr>(kPrefillChunkAttr).getInt()
           << " tokens over a window of " << *cache.getLayer().getWindow()
           << " need " << *needed << " slots";
  return success();
}

std::optional<int64_t>
AttentionPrologueOp::requiredCapacity(ModuleOp module, KVCacheType cache) {
  if (!cache.isLocal())
    return 0;
  auto chunk = module->getAttrOfType<IntegerAttr>(kPrefillChunkAttr);
  auto context = module->getAttrOfType<IntegerAttr>(kMaxContextAttr);
  if (!chunk || !context)
    return std::nullopt;
  return std::min(*cache.getLayer().getWindow() + chunk.getInt() - 1,
                  context.getInt());
}

LogicalResult MLPOp::verify() {
  if (failed(checkRank(*this, "input [tokens, hidden]", getInput(), 2)) ||
      failed(checkRank(*this, "gate", getGate(), 2)) ||
      failed(checkRank(*this, "up", getUp(), 2)) ||
      failed(checkRank(*this, "down", getDown(), 2)))
    return failure();
  if (getResult().getType() != getInput().getType())
    return emitOpError() << "result type must equal the input type";
  int64_t hidden = tensorType(getInput()).getDimSize(1);
  ArrayRef<int64_t> gate = tensorType(getGate()).getShape();
  ArrayRef<int64_t> up = tensorType(getUp()).getShape();
  ArrayRef<int64_t> down = tensorType(getDown()).getShape();
  if (failed(checkDim(*this, "gate columns", gate[1], "hidden", hidden)) ||
      failed(checkDim(*this, "up rows", up[0], "gate rows", gate[0])) ||
      failed(checkDim(*this, "up columns", up[1], "hidden", hidden)) ||
      failed(checkDim(*this, "down rows", down[0], "hidden", hidden)) ||
      failed(checkDim(*this, "down columns", down[1], "intermediate size",
                      gate[0])))
    return failure();
  return success();
}

LogicalResult LogitsOp::verify() {
  if (failed(checkRank(*this, "input [tokens, hidden]", getInput(), 2)) ||
      failed(checkRank(*this, "table [vocab, hidden]", getTable(), 2)) ||
      failed(checkRank(*this, "result [tokens, vocab]", getResult(), 2)))
    return failure();
  ArrayRef<int64_t> in = tensorType(getInput()).getShape();
  ArrayRef<int64_t> table = tensorType(getTable()).getShape();
  ArrayRef<int64_t> out = tensorType(getResult()).getShape();
  if (failed(
          checkDim(*this, "input hidden", in[1], "table hidden", table[1])) ||
      failed(checkDim(*this, "result tokens", out[0], "input tokens", in[0])) ||
      failed(checkDim(*this, "result vocab", out[1], "table rows", table[0])))
    return failure();
  if (std::optional<APFloat> cap = getSoftcap())
    return checkPositive(*this, "softcap", cap->convertToFloat());
  return success();
}

LogicalResult ArgmaxOp::verify() {
  if (failed(checkRank(*this, "input [tokens, vocab]", getInput(), 2)))
    return failure();
  ArrayRef<int64_t> in = tensorType(getInput()).getShape();
  if (failed(checkDim(*this, "result tokens",
                      tensorType(getResult()).getDimSize(0), "input tokens",
                      in[0])))
    return failure();
  // The index is an i32 token id, and `vocab` itself marks a row of NaN.
  if (ShapedType::isDynamic(in[1]) || in[1] >= INT32_MAX)
    return emitOpError("needs a static vocabulary below 2^31 - 1, got ")
           << (ShapedType::isDynamic(in[1]) ? std::string("?")
                                            : std::to_string(in[1]));
  return success();
}

//===----------------------------------------------------------------------===//
// Vision
//===----------------------------------------------------------------------===//

LogicalResult PatchEmbedOp::verify() {
  if (failed(
          checkRank(*this, "pixels [channels, size, size]", getPixels(), 3)) ||
      failed(checkRank(*this, "weight [hidden, channels, p, p]", getWeight(),
                       4)) ||
      failed(checkRank(*this, "bias", getBias(), 1)) ||
      failed(checkRank(*this, "positions", getPositions(), 2)) ||
      failed(checkRank(*this, "result [patches, hidden]", getResult(), 2)))
    return failure();
  auto pixels = tensorType(getPixels());
  ArrayRef<int64_t> weight = tensorType(getWeight()).getShape();
  int64_t patch = getPatchSize();
  if (!pixels.hasStaticShape() || pixels.getDimSize(1) != pixels.getDimSize(2))
    return emitOpError() << "pixels must be a static square image, got "
                         << shapeString(pixels.getShape());
  int64_t size = pixels.getDimSize(1);
  if (patch <= 0 || size % patch != 0)
    return emitOpError() << "image size " << size
                         << " must be a multiple of patch_size " << patch;
  int64_t patches = (size / patch) * (size / patch);
  int64_t hidden = weight[0];
  if (failed(checkDim(*this, "weight channels", weight[1], "pixel channels",
                      pixels.getDimSize(0))) ||
      failed(checkDim(*this, "weight kernel height", weight[2], "patch_size",
                      patch)) ||
      failed(checkDim(*this, "weight kernel width", weight[3], "patch_size",
                      patch)) ||
      failed(checkDim(*this, "bias size", tensorType(getBias()).getDimSize(0),
                      "hidden", hidden)) ||
      failed(checkDim(*this, "position rows",
                      tensorType(getPositions()).getDimSize(0), "patches",
                      patches)) ||
      failed(checkDim(*this, "position width",
                      tensorType(getPositions()).getDimSize(1), "hidden",
                      hidden)) ||
      failed(checkDim(*this, "result rows",
                      tensorType(getResult()).getDimSize(0), "patches",
                      patches)) ||
      failed(checkDim(*this, "result width",
                      tensorType(getResult()).getDimSize(1), "hidden", hidden)))
    return failure();
  return success();
}

LogicalResult AvgPoolOp::verify() {
  if (failed(checkRank(*this, "input [patches, channels]", getInput(), 2)) ||
      failed(checkRank(*this, "result [tokens, channels]", getResult(), 2)))
    return failure();
  auto input = tensorType(getInput());
  auto result = tensorType(getResult());
  if (!input.hasStaticShape())
    return emitOpError() << "input must have a static shape";
  int64_t patches = input.getDimSize(0);
  auto grid = static_cast<int64_t>(std::llround(std::sqrt(patches)));
  if (grid * grid != patches)
    return emitOpError() << "input rows (" << patches
                         << ") must form a square grid";
  int64_t kernel = getKernel();
  if (kernel <= 0 || grid % kernel != 0)
    return emitOpError() << "kernel " << kernel << " must divide the grid side "
                         << grid;
  int64_t side = grid / kernel;
  if (failed(checkDim(*this, "result rows", result.getDimSize(0),
                      "pooled tokens", side * side)) ||
      failed(checkDim(*this, "result channels", result.getDimSize(1),
                      "input channels", input.getDimSize(1))))
    return failure();
  return success();
}

OpFoldResult AvgPoolOp::fold(FoldAdaptor) {
  // Pooling 1x1 blocks averages a single value.
  if (getKernel() == 1 && getInput().getType() == getResult().getType())
    return getInput();
  return {};
}

LogicalResult MMProjectOp::verify() {
  if (failed(
          checkRank(*this, "input [tokens, vision_hidden]", getInput(), 2)) ||
      failed(checkRank(*this, "norm", getNorm(), 1)) ||
      failed(checkRank(*this, "proj [vision_hidden, text_hidden]", getProj(),
                       2)) ||
      failed(checkRank(*this, "result", getResult(), 2)))
    return failure();
  ArrayRef<int64_t> in = tensorType(getInput()).getShape();
  ArrayRef<int64_t> proj = tensorType(getProj()).getShape();
  ArrayRef<int64_t> out = tensorType(getResult()).getShape();
  if (failed(checkDim(*this, "norm size", tensorType(getNorm()).getDimSize(0),
                      "vision hidden", in[1])) ||
      failed(checkDim(*this, "proj rows", proj[0], "vision hidden", in[1])) ||
      failed(checkDim(*this, "result tokens", out[0], "input tokens", in[0])) ||
      failed(checkDim(*this, "result width", out[1], "proj columns", proj[1])))
    return failure();
  return checkPositive(*this, "epsilon", getEpsilon().convertToFloat());
}

LogicalResult MergeImageOp::verify() {
  if (failed(checkRank(*this, "embeddings [tokens, hidden]", getEmbeddings(),
                       2)) ||
      failed(checkRank(*this, "features [image_tokens, hidden]", getFeatures(),
                       2)))
    return failure();
  ArrayRef<int64_t> emb = tensorType(getEmbeddings()).getShape();
  if (failed(checkDim(*this, "ids size", tensorType(getIds()).getDimSize(0),
                      "embedding rows", emb[0])) ||
      failed(checkDim(*this, "feature width",
                      tensorType(getFeatures()).getDimSize(1),
                      "embedding width", emb[1])))
    return failure();
  return success();
}
