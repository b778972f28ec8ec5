{
  "targets": [
    {
      "target_name": "wordle_torch",
      "sources": [
        "src/addon.cc",
        "src/autograd.cc",
        "src/decode_attention.cc",
        "src/distributed.cc",
        "src/distributed_group.cc",
        "src/fused_kernels.cc",
        "src/lora_epilogue.cc",
        "src/dropout.cc",
        "src/op_profile.cc",
        "src/ops.cc",
        "src/runtime.cc",
        "src/small_linear.cc",
        "src/tensor_api.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node find-libtorch.cjs include)"
      ],
      "defines": ["<!@(node find-libtorch.cjs defines)"],
      "libraries": ["<!@(node find-libtorch.cjs ldflags)", "<!@(node find-libtorch.cjs libs)"],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["<!@(node find-libtorch.cjs cflags)", "-fexceptions", "-frtti", "-O2", "-Wno-deprecated-declarations", "-Wno-unused-parameter"],
      "conditions": [
        [
          "OS=='mac'",
          {
            "xcode_settings": {
              "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
              "GCC_ENABLE_CPP_RTTI": "YES",
              "MACOSX_DEPLOYMENT_TARGET": "12.0",
              "OTHER_CPLUSPLUSFLAGS": ["<!@(node find-libtorch.cjs cflags)"],
              "OTHER_LDFLAGS": ["<!@(node find-libtorch.cjs ldflags)"]
            }
          }
        ]
      ]
    }
  ]
}
