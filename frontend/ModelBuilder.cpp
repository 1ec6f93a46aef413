//===- ModelBuilder.cpp - emit a Gemma 3 model as gemma IR ----------------===//

#include "frontend/ModelBuilder.h"

#include "dialect/GemmaOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"

#include <algorithm>
#include <cmath>

using namespace mlir;
namespace ir = mlir::gemma;

namespace gemma {
namespace {

// The per-layer tensors, in the order the layer functions take them.
const char *const kLayerTensors[] = {"input_layernorm",
                                     "self_attn.q_proj",
                                     "self_attn.k_proj",
                                     "self_attn.v_proj",
                                     "self_attn.q_norm",
                                     "self_attn.k_norm",
                                     "self_attn.o_proj",
                                     "post_attention_layernorm",
                                     "pre_feedforward_layernorm",
                                     "mlp.gate_proj",
                                     "mlp.up_proj",
                                     "mlp.down_proj",
                                     "post_feedforward_layernorm"};
constexpr size_t kNumLayerTensors = std::size(kLayerTensors);

std::string layerTensorName(int64_t layer, const char *tensor) {
  return "model.layers." + std::to_string(layer) + "." + tensor + ".weight";
}

// The SigLIP encoder layer's tensors (SPEC §5), in the order the vision
// layer function takes them; each has a weight and a bias.
const char *const kVisionLayerTensors[] = {"layer_norm1",
                                           "self_attn.q_proj",
                                           "self_attn.k_proj",
                                           "self_attn.v_proj",
                                           "self_attn.out_proj",
                                           "layer_norm2",
                                           "mlp.fc1",
                                           "mlp.fc2"};
constexpr size_t kNumVisionLayerTensors = std::size(kVisionLayerTensors);

const char kVisionPrefix[] = "vision_tower.vision_model.";

std::string visionLayerTensorName(int64_t layer, const char *tensor,
                                  const char *kind) {
  return std::string(kVisionPrefix) + "encoder.layers." +
         std::to_string(layer) + "." + tensor + "." + kind;
}

} // namespace

int64_t prefillChunk(int64_t requested, int64_t maxContext) {
  return std::min(requested, maxContext);
}

int64_t localCacheSlots(const TextConfig &config, int64_t maxContext,
                        int64_t requestedChunk) {
  return std::max(
      config.slidingWindow,
      std::min(config.slidingWindow + prefillChunk(requestedChunk, maxContext),
               maxContext));
}

namespace {
class Builder {
public:
  Builder(MLIRContext &context, const ModelConfig &config,
          const BuildOptions &options)
      : ctx(context), config(config), cfg(config.text),
        vision(config.vision ? &*config.vision : nullptr), opts(options),
        b(&context), loc(b.getUnknownLoc()) {}

  OwningOpRef<ModuleOp> build() {
    OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
    module->getOperation()->setAttr(ir::kMaxContextAttr,
                                    b.getI64IntegerAttr(opts.maxContext));
    module->getOperation()->setAttr(
        ir::kPrefillChunkAttr,
        b.getI64IntegerAttr(prefillChunk(opts.prefillChunk, opts.maxContext)));
    module->getOperation()->setAttr("gemma.vocab_size",
                                    b.getI64IntegerAttr(cfg.vocabSize));
    // Each layer kind's RoPE, which the verifier holds every rope op to.
    module->getOperation()->setAttr(ir::kRopeLocalAttr, rope(false));
    module->getOperation()->setAttr(ir::kRopeGlobalAttr, rope(true));
    module->getOperation()->setAttr(
        ir::kMatmulInputsAttr, TypeAttr::get(elementType(opts.matmulInputs)));
    b.setInsertionPointToEnd(module->getBody());
    declareWeights();
    declareCaches();
    LayerFunctions text{buildLayerFunction(/*global=*/false),
                        buildLayerFunction(/*global=*/true)};
    buildEntry("prefill", ShapedType::kDynamic, text);
    // Generation needs only the last prompt token's logits: the output
    // projection of the other rows would cost a vocabulary-sized matvec each.
    buildEntry("prefill_last", ShapedType::kDynamic, text,
               /*lastRowOnly=*/true);
    buildEntry("decode", 1, text);
    // Greedy decoding's step: the token instead of the logits, so that a
    // GPU sends back four bytes, not the 1 MiB row, and the host no argmax.
    buildEntry("decode_argmax", 1, text, /*lastRowOnly=*/false,
               /*argmaxOnly=*/true);
    if (vision) {
      module->getOperation()->setAttr(
          "gemma.image_token", b.getI64IntegerAttr(config.imageTokenIndex));
      buildEncodeImage();
      // Prompts with images take the image features at the soft tokens and
      // let each image's tokens see each other: layer variants with the
      // image mask, so that text prompts keep the causal loops.
      LayerFunctions images{buildLayerFunction(/*global=*/false, true),
                            buildLayerFunction(/*global=*/true, true)};
      buildEntry("prefill_images", ShapedType::kDynamic, images);
      buildEntry("prefill_images_last", ShapedType::kDynamic, images,
                 /*lastRowOnly=*/true);
    }
    return module;
  }

private:
  Type elementType(DType dtype) {
    switch (dtype) {
    case DType::BF16:
      return b.getBF16Type();
    case DType::F16:
      return b.getF16Type();
    case DType::F32:
      return b.getF32Type();
    }
    return {};
  }

  RankedTensorType weightType(const std::string &name,
                              ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, elementType(opts.weightDtypeOf(name)));
  }

  RankedTensorType act(ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, b.getF32Type());
  }

  void declareWeight(const std::string &name, ArrayRef<int64_t> shape) {
    // Offsets come later, from gemma-layout-weights.
    ir::WeightDeclOp::create(b, loc, b.getStringAttr(name),
                             TypeAttr::get(weightType(name, shape)),
                             /*offset=*/IntegerAttr(), /*parts=*/ArrayAttr());
    weightTypes[name] = weightType(name, shape);
  }

  void declareWeights() {
    int64_t h = cfg.hiddenSize, inter = cfg.intermediateSize;
    int64_t qDim = cfg.numHeads * cfg.headDim;
    int64_t kvDim = cfg.numKvHeads * cfg.headDim;
    declareWeight("model.embed_tokens.weight", {cfg.vocabSize, h});
    const SmallVector<int64_t, 2> shapes[] = {
        {h},           {qDim, h},  {kvDim, h}, {kvDim, h}, {cfg.headDim},
        {cfg.headDim}, {h, qDim},  {h},        {h},        {inter, h},
        {inter, h},    {h, inter}, {h}};
    static_assert(std::size(shapes) == kNumLayerTensors);
    for (int64_t layer = 0; layer < cfg.numLayers; ++layer)
      for (size_t t = 0; t < kNumLayerTensors; ++t)
        declareWeight(layerTensorName(layer, kLayerTensors[t]), shapes[t]);
    declareWeight("model.norm.weight", {h});
    if (!cfg.tieWordEmbeddings)
      declareWeight("lm_head.weight", {cfg.vocabSize, h});
    if (vision)
      declareVisionWeights();
  }

  int64_t patchesPerSide() const {
    return vision->imageSize / vision->patchSize;
  }

  // The vision tower and projector (SPEC §1, §5), canonical names.
  void declareVisionWeights() {
    int64_t h = vision->hiddenSize, ff = vision->intermediateSize;
    int64_t patches = patchesPerSide() * patchesPerSide();
    std::string e = std::string(kVisionPrefix) + "embeddings.";
    declareWeight(e + "patch_embedding.weight",
                  {h, 3, vision->patchSize, vision->patchSize});
    declareWeight(e + "patch_embedding.bias", {h});
    declareWeight(e + "position_embedding.weight", {patches, h});
    const SmallVector<int64_t, 2> shapes[] = {{h},    {h, h}, {h, h},  {h, h},
                                              {h, h}, {h},    {ff, h}, {h, ff}};
    static_assert(std::size(shapes) == kNumVisionLayerTensors);
    for (int64_t layer = 0; layer < vision->numLayers; ++layer)
      for (size_t t = 0; t < kNumVisionLayerTensors; ++t) {
        const char *name = kVisionLayerTensors[t];
        declareWeight(visionLayerTensorName(layer, name, "weight"), shapes[t]);
        declareWeight(visionLayerTensorName(layer, name, "bias"),
                      {shapes[t][0]});
      }
    declareWeight(std::string(kVisionPrefix) + "post_layernorm.weight", {h});
    declareWeight(std::string(kVisionPrefix) + "post_layernorm.bias", {h});
    declareWeight("multi_modal_projector.mm_soft_emb_norm.weight", {h});
    declareWeight("multi_modal_projector.mm_input_projection_weight",
                  {h, cfg.hiddenSize});
  }

  ir::KVCacheType cacheType(bool global) {
    auto layer = global ? ir::AttentionAttr::get(
                              &ctx, ir::AttentionKind::Global, std::nullopt)
                        : ir::AttentionAttr::get(&ctx, ir::AttentionKind::Local,
                                                 cfg.slidingWindow);
    int64_t capacity =
        global ? opts.maxContext
               : localCacheSlots(cfg, opts.maxContext, opts.prefillChunk);
    return ir::KVCacheType::get(&ctx, layer, capacity, cfg.numKvHeads,
                                cfg.headDim, elementType(opts.kvDtype));
  }

  void declareCaches() {
    for (int64_t layer = 0; layer < cfg.numLayers; ++layer)
      ir::CacheDeclOp::create(
          b, loc, b.getStringAttr("kv." + std::to_string(layer)),
          TypeAttr::get(cacheType(cfg.layerIsGlobal[layer])),
          /*offset=*/IntegerAttr());
  }

  Value rmsNorm(Value x, Value w) {
    return ir::RMSNormOp::create(b, loc, x.getType(), x, w,
                                 b.getF32FloatAttr(cfg.rmsNormEps));
  }

  Value linear(Value x, Value w, int64_t outFeatures) {
    auto xType = cast<RankedTensorType>(x.getType());
    SmallVector<int64_t> shape(xType.getShape());
    shape.back() = outFeatures;
    return ir::LinearOp::create(b, loc, act(shape), x, w, Value());
  }

  Value splitHeads(Value x, Value tokens, int64_t heads) {
    auto type = act({ShapedType::kDynamic, heads, cfg.headDim});
    return tensor::ExpandShapeOp::create(
        b, loc, type, x, ArrayRef<ReassociationIndices>{{0}, {1, 2}},
        ArrayRef<OpFoldResult>{tokens, b.getIndexAttr(heads),
                               b.getIndexAttr(cfg.headDim)});
  }

  ir::RopeAttr rope(bool global) {
    const RopeConfig &r = global ? cfg.ropeGlobal : cfg.ropeLocal;
    return ir::RopeAttr::get(&ctx, r.theta, r.factor);
  }

  ir::MaskAttr mask(bool global, bool imageGroups) {
    return ir::MaskAttr::get(
        &ctx, global ? ir::MaskKind::Causal : ir::MaskKind::SlidingWindow,
        imageGroups);
  }

  RankedTensorType groupsType() {
    return RankedTensorType::get({ShapedType::kDynamic}, b.getI32Type());
  }

  /// func @<kind>_layer(%x: tensor<?xH>, %pos, %cache, weights...) ->
  /// tensor<?xH>; with `images`, @<kind>_layer_images takes the tokens'
  /// image groups (tensor<?xi32>, -1 for text) after the cache.
  func::FuncOp buildLayerFunction(bool global, bool images = false) {
    int64_t h = cfg.hiddenSize;
    auto xType = act({ShapedType::kDynamic, h});
    SmallVector<Type> inputs = {xType, b.getIndexType(), cacheType(global)};
    if (images)
      inputs.push_back(groupsType());
    for (size_t t = 0; t < kNumLayerTensors; ++t)
      inputs.push_back(weightTypes.at(layerTensorName(0, kLayerTensors[t])));
    std::string name = global ? "global_layer" : "local_layer";
    auto fn = func::FuncOp::create(b, loc, images ? name + "_images" : name,
                                   b.getFunctionType(inputs, {xType}));
    fn.setPrivate();
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(fn.addEntryBlock());
    Value x = fn.getArgument(0), pos = fn.getArgument(1),
          cache = fn.getArgument(2);
    Value groups = images ? fn.getArgument(3) : Value();
    unsigned firstWeight = images ? 4 : 3;
    auto w = [&](size_t i) { return fn.getArgument(firstWeight + i); };

    Value tokens = tensor::DimOp::create(b, loc, x, 0);
    int64_t qDim = cfg.numHeads * cfg.headDim;
    int64_t kvDim = cfg.numKvHeads * cfg.headDim;
    Value normed = rmsNorm(x, w(0));
    Value q = splitHeads(linear(normed, w(1), qDim), tokens, cfg.numHeads);
    Value k = splitHeads(linear(normed, w(2), kvDim), tokens, cfg.numKvHeads);
    Value v = splitHeads(linear(normed, w(3), kvDim), tokens, cfg.numKvHeads);
    q = rmsNorm(q, w(4));
    k = rmsNorm(k, w(5));
    q = ir::RopeOp::create(b, loc, q.getType(), q, pos, rope(global));
    k = ir::RopeOp::create(b, loc, k.getType(), k, pos, rope(global));
    Value attn = ir::AttentionOp::create(
        b, loc, q.getType(), q, k, v, cache, pos, groups,
        mask(global, /*imageGroups=*/bool(groups)),
        b.getF32FloatAttr(1.0 / std::sqrt(cfg.queryPreAttnScalar)),
        /*softcap=*/FloatAttr());
    ir::CacheUpdateOp::create(b, loc, cache, pos, k, v);
    Value merged = tensor::CollapseShapeOp::create(
        b, loc, act({ShapedType::kDynamic, qDim}), attn,
        ArrayRef<ReassociationIndices>{{0}, {1, 2}});
    Value attnOut = rmsNorm(linear(merged, w(6), h), w(7));
    Value residual = ir::AddOp::create(b, loc, x, attnOut);
    Value mlpIn = rmsNorm(residual, w(8));
    Value mlp = ir::MLPOp::create(b, loc, xType, mlpIn, w(9), w(10), w(11));
    Value out = ir::AddOp::create(b, loc, residual, rmsNorm(mlp, w(12)));
    func::ReturnOp::create(b, loc, out);
    return fn;
  }

  Value weight(const std::string &name) {
    return ir::WeightOp::create(b, loc, weightTypes.at(name), name);
  }

  struct LayerFunctions {
    func::FuncOp local, global;
    bool images() { return local.getNumArguments() > 3 + kNumLayerTensors; }
  };

  /// func @<name>(%ids: tensor<NxI32>, %pos: index) -> tensor<NxVxf32>,
  /// or -> tensor<1xVxf32>, the last row's logits, with `lastRowOnly`.
  /// With image layers, two more operands: %features [F, hidden], the image
  /// features the F image soft tokens of %ids take in order, and
  /// %image_groups [N], each token's image (-1 for text).
  void buildEntry(StringRef name, int64_t tokens, LayerFunctions layers,
                  bool lastRowOnly = false, bool argmaxOnly = false) {
    auto idsType = RankedTensorType::get({tokens}, b.getI32Type());
    auto logitsType = act({lastRowOnly ? 1 : tokens, cfg.vocabSize});
    Type resultType = argmaxOnly ? Type(idsType) : Type(logitsType);
    SmallVector<Type> inputs = {idsType, b.getIndexType()};
    bool images = layers.images();
    if (images) {
      inputs.push_back(act({ShapedType::kDynamic, cfg.hiddenSize}));
      inputs.push_back(groupsType());
    }
    auto fn = func::FuncOp::create(b, loc, name,
                                   b.getFunctionType(inputs, {resultType}));
    fn->setAttr("gemma.entry", b.getUnitAttr());
    const char *const names[] = {"ids", "position", "features", "image_groups"};
    for (unsigned i = 0; i < inputs.size(); ++i)
      fn.setArgAttr(i, "gemma.name", b.getStringAttr(names[i]));
    fn.setResultAttr(0, "gemma.name",
                     b.getStringAttr(argmaxOnly ? "token" : "logits"));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(fn.addEntryBlock());
    Value ids = fn.getArgument(0), pos = fn.getArgument(1);
    Value table = weight("model.embed_tokens.weight");
    // Computing in f32, the embedding scale is the exact sqrt(hidden).
    Value x = ir::EmbedOp::create(
        b, loc, act({tokens, cfg.hiddenSize}), ids, table,
        b.getF32FloatAttr(std::sqrt(static_cast<double>(cfg.hiddenSize))));
    if (images)
      x = ir::MergeImageOp::create(
          b, loc, x.getType(), x, ids, fn.getArgument(2),
          b.getI32IntegerAttr(static_cast<int32_t>(config.imageTokenIndex)));
    auto dynamicX = act({ShapedType::kDynamic, cfg.hiddenSize});
    if (x.getType() != dynamicX)
      x = tensor::CastOp::create(b, loc, dynamicX, x);
    for (int64_t layer = 0; layer < cfg.numLayers; ++layer) {
      bool isGlobal = cfg.layerIsGlobal[layer];
      SmallVector<Value> args = {x, pos};
      args.push_back(ir::CacheOp::create(b, loc, cacheType(isGlobal),
                                         "kv." + std::to_string(layer)));
      if (images)
        args.push_back(fn.getArgument(3));
      for (size_t t = 0; t < kNumLayerTensors; ++t)
        args.push_back(weight(layerTensorName(layer, kLayerTensors[t])));
      x = func::CallOp::create(b, loc, isGlobal ? layers.global : layers.local,
                               args)
              .getResult(0);
    }
    if (x.getType() != act({tokens, cfg.hiddenSize}))
      x = tensor::CastOp::create(b, loc, act({tokens, cfg.hiddenSize}), x);
    if (lastRowOnly) {
      Value rows = tensor::DimOp::create(b, loc, x, 0);
      Value last = arith::SubIOp::create(
          b, loc, rows, arith::ConstantIndexOp::create(b, loc, 1));
      x = tensor::ExtractSliceOp::create(
          b, loc, act({1, cfg.hiddenSize}), x,
          ArrayRef<OpFoldResult>{last, b.getIndexAttr(0)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(1),
                                 b.getIndexAttr(cfg.hiddenSize)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
    }
    Value normed = rmsNorm(x, weight("model.norm.weight"));
    FloatAttr softcap = cfg.finalLogitSoftcap
                            ? b.getF32FloatAttr(*cfg.finalLogitSoftcap)
                            : FloatAttr();
    Value head = cfg.tieWordEmbeddings ? table : weight("lm_head.weight");
    Value logits =
        ir::LogitsOp::create(b, loc, logitsType, normed, head, softcap);
    if (argmaxOnly)
      logits = ir::ArgmaxOp::create(b, loc, idsType, logits);
    func::ReturnOp::create(b, loc, logits);
  }

  Value layerNorm(Value x, const std::string &prefix) {
    return ir::LayerNormOp::create(
        b, loc, x.getType(), x, weight(prefix + ".weight"),
        weight(prefix + ".bias"), b.getF32FloatAttr(vision->layerNormEps));
  }

  Value biasedLinear(Value x, Value w, Value bias) {
    auto xType = cast<RankedTensorType>(x.getType());
    SmallVector<int64_t> shape(xType.getShape());
    shape.back() = cast<RankedTensorType>(w.getType()).getDimSize(0);
    return ir::LinearOp::create(b, loc, act(shape), x, w, bias);
  }

  /// func @vision_layer(%x: tensor<PxH>, weights and biases...) ->
  /// tensor<PxH>: one pre-norm SigLIP encoder block (SPEC §5), unmasked
  /// multi-head attention with biased projections.
  func::FuncOp buildVisionLayerFunction() {
    int64_t patches = patchesPerSide() * patchesPerSide();
    int64_t h = vision->hiddenSize, heads = vision->numHeads;
    int64_t headDim = h / heads;
    auto xType = act({patches, h});
    SmallVector<Type> inputs = {xType};
    for (size_t t = 0; t < kNumVisionLayerTensors; ++t)
      for (const char *kind : {"weight", "bias"})
        inputs.push_back(weightTypes.at(
            visionLayerTensorName(0, kVisionLayerTensors[t], kind)));
    auto fn = func::FuncOp::create(b, loc, "vision_layer",
                                   b.getFunctionType(inputs, {xType}));
    fn.setPrivate();
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(fn.addEntryBlock());
    Value x = fn.getArgument(0);
    auto w = [&](size_t t) { return fn.getArgument(1 + 2 * t); };
    auto bias = [&](size_t t) { return fn.getArgument(2 + 2 * t); };
    auto norm = [&](Value in, size_t t) {
      return ir::LayerNormOp::create(b, loc, in.getType(), in, w(t), bias(t),
                                     b.getF32FloatAttr(vision->layerNormEps));
    };
    auto headsType = act({patches, heads, headDim});
    auto split = [&](Value in) -> Value {
      return tensor::ExpandShapeOp::create(
          b, loc, headsType, in, ArrayRef<ReassociationIndices>{{0}, {1, 2}});
    };
    Value normed = norm(x, 0);
    Value q = split(biasedLinear(normed, w(1), bias(1)));
    Value k = split(biasedLinear(normed, w(2), bias(2)));
    Value v = split(biasedLinear(normed, w(3), bias(3)));
    Value attn = ir::AttentionOp::create(
        b, loc, headsType, q, k, v, /*cache=*/Value(), /*position=*/Value(),
        /*imageGroups=*/Value(),
        ir::MaskAttr::get(&ctx, ir::MaskKind::Bidirectional, false),
        b.getF32FloatAttr(1.0 / std::sqrt(static_cast<double>(headDim))),
        /*softcap=*/FloatAttr());
    Value merged = tensor::CollapseShapeOp::create(
        b, loc, xType, attn, ArrayRef<ReassociationIndices>{{0}, {1, 2}});
    x = ir::AddOp::create(b, loc, x, biasedLinear(merged, w(4), bias(4)));
    Value hidden = biasedLinear(norm(x, 5), w(6), bias(6));
    hidden = ir::GeluTanhOp::create(b, loc, hidden.getType(), hidden);
    x = ir::AddOp::create(b, loc, x, biasedLinear(hidden, w(7), bias(7)));
    func::ReturnOp::create(b, loc, x);
    return fn;
  }

  /// func @encode_image(%pixels: tensor<3xSxSxf32>) -> tensor<TxHxf32>:
  /// the SigLIP tower and the projector (SPEC §5), T = mm_tokens_per_image
  /// image features in the text embedding space.
  void buildEncodeImage() {
    func::FuncOp layerFn = buildVisionLayerFunction();
    int64_t size = vision->imageSize, h = vision->hiddenSize;
    int64_t patches = patchesPerSide() * patchesPerSide();
    int64_t tokens = config.mmTokensPerImage;
    auto featuresType = act({tokens, cfg.hiddenSize});
    auto fn = func::FuncOp::create(
        b, loc, "encode_image",
        b.getFunctionType({act({3, size, size})}, {featuresType}));
    fn->setAttr("gemma.entry", b.getUnitAttr());
    fn.setArgAttr(0, "gemma.name", b.getStringAttr("pixels"));
    fn.setResultAttr(0, "gemma.name", b.getStringAttr("features"));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(fn.addEntryBlock());
    std::string e = std::string(kVisionPrefix) + "embeddings.";
    Value x =
        ir::PatchEmbedOp::create(b, loc, act({patches, h}), fn.getArgument(0),
                                 weight(e + "patch_embedding.weight"),
                                 weight(e + "patch_embedding.bias"),
                                 weight(e + "position_embedding.weight"),
                                 b.getI64IntegerAttr(vision->patchSize));
    for (int64_t layer = 0; layer < vision->numLayers; ++layer) {
      SmallVector<Value> args = {x};
      for (size_t t = 0; t < kNumVisionLayerTensors; ++t)
        for (const char *kind : {"weight", "bias"})
          args.push_back(weight(
              visionLayerTensorName(layer, kVisionLayerTensors[t], kind)));
      x = func::CallOp::create(b, loc, layerFn, args).getResult(0);
    }
    x = layerNorm(x, std::string(kVisionPrefix) + "post_layernorm");
    auto perSide = static_cast<int64_t>(
        std::llround(std::sqrt(static_cast<double>(tokens))));
    Value pooled =
        ir::AvgPoolOp::create(b, loc, act({tokens, h}), x,
                              b.getI64IntegerAttr(patchesPerSide() / perSide));
    // The projector's RMSNorm takes the vision tower's epsilon
    // (transformers' Gemma3MultiModalProjector).
    Value features = ir::MMProjectOp::create(
        b, loc, featuresType, pooled,
        weight("multi_modal_projector.mm_soft_emb_norm.weight"),
        weight("multi_modal_projector.mm_input_projection_weight"),
        b.getF32FloatAttr(vision->layerNormEps));
    func::ReturnOp::create(b, loc, features);
  }

  MLIRContext &ctx;
  const ModelConfig &config;
  const TextConfig &cfg;
  const VisionConfig *vision; // null for a text-only model
  const BuildOptions &opts;
  OpBuilder b;
  Location loc;
  std::map<std::string, RankedTensorType> weightTypes;
};

} // namespace

OwningOpRef<ModuleOp> buildModel(MLIRContext &context,
                                 const ModelConfig &config,
                                 const BuildOptions &options) {
  context.loadDialect<ir::GemmaDialect, func::FuncDialect,
                      tensor::TensorDialect, arith::ArithDialect>();
  return Builder(context, config, options).build();
}

} // namespace gemma
