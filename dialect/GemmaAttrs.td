//===- GemmaAttrs.td - gemma dialect attributes ------------*- tablegen -*-===//

#ifndef GEMMA_DIALECT_GEMMAATTRS_TD
#define GEMMA_DIALECT_GEMMAATTRS_TD

include "dialect/GemmaBase.td"
include "mlir/IR/AttrTypeBase.td"

class Gemma_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<Gemma_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

def Gemma_AttentionAttr : Gemma_Attr<"Attention", "attention"> {
  let summary = "the attention kind of a decoder layer";
  let description = [{
    `local` layers attend to a sliding window of `W` keys (the query itself
    and the `W - 1` before it); `global` layers attend to every earlier
    position.

    ```mlir
    #gemma.attention<local, window = 512>
    #gemma.attention<global>
    ```
  }];
  // The window is present exactly for local layers: no 0 standing for none.
  let parameters = (ins "AttentionKind":$kind,
                        OptionalParameter<"std::optional<int64_t>">:$window);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    bool isLocal() const { return getKind() == AttentionKind::Local; }
  }];
}

def Gemma_RopeAttr : Gemma_Attr<"Rope", "rope"> {
  let summary = "rotary position embedding parameters";
  let description = [{
    Non-interleaved RoPE with `inv_freq_i = 1 / base^(2i/D) / scale`. `scale`
    is the linear scaling factor (`rope_scaling.factor`), 1 when absent.

    ```mlir
    #gemma.rope<base = 1.000000e+04>
    #gemma.rope<base = 1.000000e+06, scale = 8.000000e+00>
    ```
  }];
  let parameters = (ins APFloatParameter<"">:$base,
                        APFloatParameter<"">:$scale);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let builders = [
    AttrBuilder<(ins "double":$base, CArg<"double", "1.0">:$scale), [{
      return $_get($_ctxt, ::llvm::APFloat(base), ::llvm::APFloat(scale));
    }]>
  ];
  let extraClassDeclaration = [{
    double getBaseValue() const { return getBase().convertToDouble(); }
    double getScaleValue() const { return getScale().convertToDouble(); }
  }];
}

def Gemma_MaskAttr : Gemma_Attr<"Mask", "mask"> {
  let summary = "the attention mask";
  let description = [{
    * `causal`: query `i` sees keys `j <= i` (global text layers);
    * `sliding_window`: query `i` sees keys `i - W < j <= i` (local layers),
      `W` being the window of the layer's local KV cache: the window is
      stated once, in the cache type, and the mask takes it from there;
    * `bidirectional`: every query sees every key (the SigLIP encoder).

    `image_groups` additionally lets a query see the later keys of its own
    image (a contiguous run of image soft tokens), on local and global layers
    alike; a local layer's window still bounds them (transformers' sliding
    mask is AND(window, OR(causal, image)), docs/vision.md).

    ```mlir
    #gemma.mask<causal>
    #gemma.mask<sliding_window, image_groups>
    #gemma.mask<bidirectional>
    ```
  }];
  let parameters = (ins "MaskKind":$kind,
                        DefaultValuedParameter<"bool", "false">:$imageGroups);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
}

#endif // GEMMA_DIALECT_GEMMAATTRS_TD
