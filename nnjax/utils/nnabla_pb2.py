"""NNabla's protobuf schema (``nnabla.proto``) as Python message classes.

The classes are built at import time from a ``FileDescriptorProto``
assembled below, so no ``protoc`` step is needed; the runtime dependency is
the ``protobuf`` package alone. Message names, field names, field numbers
and types follow NNabla's schema (NNabla 1.39), so the binary
(``.protobuf``) and text (``.nntxt``/``.prototxt``) files written by NNabla
parse here and the files written here parse in NNabla.

Public names: one class per message (``NNablaProtoBuf``, ``Network``,
``Variable``, ``Function``, ``Parameter``, ``AffineParameter``, ...),
``DESCRIPTOR`` (the file descriptor), and for the function-argument
messages ``FUNCTION_PARAMS`` = {function type name: name of its field in
``Function``'s ``parameter`` oneof}.

The schema is kept as two compact tables written for this module:

- ``_MESSAGES``: the structural messages. A message starts at column 0
  (``Name`` or ``Name oneof=group``); each field line is
  ``name number type`` where a leading ``*`` in the type means
  ``repeated``, ``map:K:V`` a map field, ``|group`` a member of the oneof
  ``group``, and ``packed`` the packed option.
- ``_FUNCTIONS``: one line per NNabla function that has arguments:
  ``TypeName field_stem offset arg:type ...``. The function's message is
  ``TypeNameParameter``, its field in ``Function`` is ``field_stem_param``
  numbered ``1000 + offset``; the arguments are numbered 1, 2, ... in order.
"""
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_FILE_NAME = "nnabla.proto"

_MESSAGES = """
Shape
  dim 1 *int64 packed
Communicator
Context
  backends 1 *string
  array_class 2 string
  device_id 3 string
  backend 4 string
  compute_backend 5 string
NNablaProtoBuf
  version 1 string
  global_config 2 GlobalConfig
  training_config 10 TrainingConfig
  network 100 *Network
  parameter 200 *Parameter
  dataset 300 *Dataset
  optimizer 400 *Optimizer
  monitor 500 *Monitor
  executor 600 *Executor
GlobalConfig
  default_context 1 Context
TrainingConfig
  max_epoch 1 int64
  iter_per_epoch 2 int64
  save_best 100 bool
  monitor_interval 200 int64
Network
  name 1 string
  batch_size 10 int64
  repeat_info 11 *RepeatInfo
  variable 100 *Variable
  function 200 *Function
RepeatInfo
  id 1 string
  times 2 int64
RepeatParameter
  repeat_id 1 string
  times 2 int64
RecurrentParameter
  repeat_id 1 string
  length 2 int64
  axis 3 int64
Variable
  name 1 string
  type 2 string
  repeat_id 3 *string
  shape 20 Shape
  initializer 100 Initializer
Initializer
  type 2 string
  multiplier 10 float
Parameter
  variable_name 1 string
  shape 20 Shape
  data 100 *float
  need_grad 101 bool
Dataset
  name 1 string
  type 2 string
  uri 10 string
  batch_size 20 int64
  cache_dir 30 string
  overwrite_cache 31 bool
  create_cache_explicitly 32 bool
  shuffle 100 bool
  no_image_normalization 101 bool
  variable 200 *string
Optimizer
  name 1 string
  order 3 int64
  network_name 10 string
  dataset_name 20 *string
  solver 30 Solver
  update_interval 40 int64
  data_variable 50 *DataVariable
  generator_variable 60 *GeneratorVariable
  loss_variable 70 *LossVariable
  parameter_variable 80 *ParameterVariable
  start_iter 100 int64
  end_iter 101 int64
SolverStateParameter
  shape 20 Shape
  data 100 *float
SolverState
  t 1 uint32
  state_parameter 2 map:string:SolverStateParameter
Solver
  type 2 string
  context 10 Context
  weight_decay 20 float
  states 40 map:string:SolverState
  sgd_param 100 SgdParameter|parameter
  sgdw_param 101 SgdWParameter|parameter
  momentum_param 102 MomentumParameter|parameter
  lars_param 103 LarsParameter|parameter
  nesterov_param 104 NesterovParameter|parameter
  adadelta_param 105 AdadeltaParameter|parameter
  adagrad_param 106 AdagradParameter|parameter
  adabelief_param 107 AdaBeliefParameter|parameter
  rmsprop_param 108 RMSpropParameter|parameter
  rmsprop_graves_param 109 RMSpropGravesParameter|parameter
  adam_param 110 AdamParameter|parameter
  adamw_param 111 AdamWParameter|parameter
  adabound_param 112 AdaBoundParameter|parameter
  adamax_param 113 AdamaxParameter|parameter
  amsgrad_param 114 AMSGRADParameter|parameter
  amsbound_param 115 AMSBoundParameter|parameter
  lamb_param 116 LambParameter|parameter
  lion_param 117 LionParameter|parameter
  lr_scheduler_type 200 string
  polynomial_scheduler_param 210 PolynomialSchedulerParameter
  cosine_scheduler_param 211 CosineSchedulerParameter
  exponential_scheduler_param 212 ExponentialSchedulerParameter
  step_scheduler_param 213 StepSchedulerParameter
  custom_scheduler_param 299 CustomSchedulerParameter
  lr_warmup_scheduler_type 300 string
  linear_warmup_scheduler_param 310 LinearWarmupSchedulerParameter
  lr_decay 30 float
  lr_decay_interval 31 int64
SgdParameter
  lr 1 float
SgdWParameter
  lr 1 float
  momentum 2 float
  wd 3 float
MomentumParameter
  lr 1 float
  momentum 2 float
LarsParameter
  lr 1 float
  momentum 2 float
  coefficient 3 float
  eps 4 float
NesterovParameter
  lr 1 float
  momentum 2 float
AdadeltaParameter
  lr 1 float
  decay 2 float
  eps 3 float
AdagradParameter
  lr 1 float
  eps 2 float
AdaBeliefParameter
  alpha 1 float
  beta1 2 float
  beta2 3 float
  eps 4 float
  wd 5 float
  amsgrad 6 bool
  weight_decouple 7 bool
  fixed_decay 8 bool
  rectify 9 bool
RMSpropParameter
  lr 1 float
  decay 2 float
  eps 3 float
RMSpropGravesParameter
  lr 1 float
  decay 2 float
  momentum 3 float
  eps 4 float
AdamParameter
  alpha 1 float
  beta1 2 float
  beta2 3 float
  eps 4 float
AdamWParameter
  alpha 1 float
  beta1 2 float
  beta2 3 float
  eps 4 float
  wd 5 float
AdaBoundParameter
  alpha 1 float
  beta1 2 float
  beta2 3 float
  eps 4 float
  final_lr 5 float
  gamma 6 float
AdamaxParameter
  alpha 1 float
  beta1 2 float
  beta2 3 float
  eps 4 float
AMSGRADParameter
  alpha 1 float
  beta1 2 float
  beta2 3 float
  eps 4 float
  bias_correction 5 bool
AMSBoundParameter
  alpha 1 float
  beta1 2 float
  beta2 3 float
  eps 4 float
  final_lr 5 float
  gamma 6 float
  bias_correction 7 bool
LambParameter
  eta 1 float
  beta1 2 float
  beta2 3 float
  gamma_l 4 float
  gamma_u 5 float
  eps 6 float
  bias_correction 7 bool
LionParameter
  lr 1 float
  beta1 2 float
  beta2 3 float
PolynomialSchedulerParameter
  max_iter 1 float
  power 2 float
CosineSchedulerParameter
  max_iter 1 float
ExponentialSchedulerParameter
  gamma 1 float
  iter_interval 2 int64
StepSchedulerParameter
  gamma 1 float
  iter_steps 2 *int64
CustomSchedulerParameter
  max_iter 1 float
  network_name 10 string
  data_variable 50 *DataVariable
  output_variable 80 *OutputVariable
LinearWarmupSchedulerParameter
  warmup_iter 1 int64
DataVariable
  variable_name 1 string
  data_name 3 string
GeneratorVariable
  variable_name 1 string
  type 2 string
  multiplier 3 float
LossVariable
  variable_name 1 string
ParameterVariable
  variable_name 1 string
  learning_rate_multiplier 2 float
Monitor
  name 1 string
  network_name 10 string
  dataset_name 20 *string
  data_variable 50 *DataVariable
  generator_variable 60 *GeneratorVariable
  monitor_variable 70 *MonitorVariable
MonitorVariable
  variable_name 1 string
  type 2 string
  data_name 3 string
  multiplier 100 float
Executor
  name 1 string
  network_name 10 string
  num_evaluations 20 int64
  repeat_evaluation_type 21 string
  need_back_propagation 30 bool
  data_variable 50 *DataVariable
  generator_variable 60 *GeneratorVariable
  loss_variable 70 *LossVariable
  output_variable 80 *OutputVariable
  parameter_variable 90 *ParameterVariable
  no_image_normalization 101 bool
OutputVariable
  variable_name 1 string
  type 2 string
  data_name 3 string
Function
  name 1 string
  type 2 string
  repeat_id 3 *string
  context 10 Context
  input 20 *string
  output 30 *string
  repeat_param 100 RepeatParameter
  recurrent_param 101 RecurrentParameter
"""

_FUNCTIONS = """
Affine affine 1 base_axis:int64
RNN rnn 2 num_layers:int64 nonlinearity:string dropout:float bidirectional:bool training:bool
LSTM lstm 3 num_layers:int64 dropout:float bidirectional:bool training:bool
GRU gru 4 num_layers:int64 dropout:float bidirectional:bool training:bool
Convolution convolution 5 base_axis:int64 pad:Shape stride:Shape dilation:Shape group:int64 channel_last:bool
FusedConvolution fused_convolution 6 base_axis:int64 pad:Shape stride:Shape dilation:Shape group:int64 channel_last:bool decay_rate:float eps:float batch_stat:bool nonlinearity:string nonlinearity_args:*float pad_mode:string constant_value:float
DepthwiseConvolution depthwise_convolution 7 base_axis:int64 pad:Shape stride:Shape dilation:Shape multiplier:int64
Deconvolution deconvolution 8 base_axis:int64 pad:Shape stride:Shape dilation:Shape group:int64 channel_last:bool output_padding:Shape
DepthwiseDeconvolution depthwise_deconvolution 9 base_axis:int64 pad:Shape stride:Shape dilation:Shape divisor:int64
DeformableConvolution deformable_convolution 10 base_axis:int64 pad:Shape stride:Shape dilation:Shape group:int64 deformable_group:int64 channel_last:bool
MaxPooling max_pooling 12 kernel:Shape stride:Shape ignore_border:bool pad:Shape channel_last:bool
AveragePooling average_pooling 13 kernel:Shape stride:Shape ignore_border:bool pad:Shape channel_last:bool including_pad:bool
SumPooling sum_pooling 15 kernel:Shape stride:Shape ignore_border:bool pad:Shape channel_last:bool
Unpooling unpooling 16 kernel:Shape channel_last:bool
RoiAlign roi_align 18 output_size:Shape spatial_scale:*float sampling_ratio:int64 channel_last:bool
ReLU relu 22 inplace:bool
LeakyReLU leaky_relu 23 alpha:float inplace:bool
Softmax softmax 24 axis:int64
LogSoftmax log_softmax 25 axis:int64
ELU elu 26 alpha:double
SELU selu 27 scale:double alpha:double
CReLU crelu 28 axis:int64
CELU celu 29 alpha:double axis:int64
PReLU prelu 30 base_axis:int64
SoftPlus softplus 37 beta:double
FusedBatchNormalization fused_batch_normalization 41 axes:*int64 decay_rate:float eps:float batch_stat:bool nonlinearity:string
BatchNormalization batch_normalization 42 axes:*int64 decay_rate:float eps:float batch_stat:bool no_scale:bool no_bias:bool
GroupNormalization group_normalization 43 num_groups:int64 channel_axis:int64 batch_axis:*int64 eps:float no_scale:bool no_bias:bool
InstanceNormalization instance_normalization 44 channel_axis:int64 batch_axis:*int64 eps:float no_scale:bool no_bias:bool
LayerNormalization layer_normalization 45 batch_axis:*int64 eps:float no_scale:bool no_bias:bool
NormNormalization norm_normalization 46 p:float axes:*int64 eps:float
SyncBatchNormalization sync_batch_normalization 47 comm:Communicator group:string axes:*int64 decay_rate:float eps:float batch_stat:bool
TensorNormalization tensor_normalization 48 axes:*int64 eps:float no_scale:bool no_bias:bool
WeightNormalization weight_normalization 49 dim:int64 eps:float
WeightStandardization weight_standardization 50 channel_axis:int64 eps:float
SpectralNorm spectral_norm 51 dim:int64 itr:int64 eps:float test:bool output_u:bool
MeanSubtraction mean_subtraction 52 base_axis:int64 update_running_mean:bool
ClipGradByNorm clip_grad_by_norm 54 clip_norm:float axes:*int64
Sum sum 55 axes:*int64 keep_dims:bool
CumSum cumsum 56 axis:int64 exclusive:bool reverse:bool
Mean mean 57 axes:*int64 keep_dims:bool
Max max 58 axes:*int64 keep_dims:bool with_index:bool only_index:bool
Min min 59 axes:*int64 keep_dims:bool with_index:bool only_index:bool
Norm norm 60 p:float axes:*int64 keep_dims:bool
Prod prod 61 axes:*int64 keep_dims:bool
CumProd cumprod 62 axis:int64 exclusive:bool reverse:bool
Add2 add2 65 inplace:bool
BcAdd2 bc_add2 67 inplace:bool
Sub2 sub2 68 inplace:bool
Mul2 mul2 69 inplace:bool
Div2 div2 71 inplace:bool
Pow2 pow2 72 inplace:bool
AddScalar add_scalar 73 val:double inplace:bool
MulScalar mul_scalar 74 val:double inplace:bool
PowScalar pow_scalar 75 val:double inplace:bool
RSubScalar r_sub_scalar 76 val:double
RDivScalar r_div_scalar 77 val:double
RPowScalar r_pow_scalar 78 val:double
Sign sign 79 alpha:float
MinimumScalar minimum_scalar 82 val:double
MaximumScalar maximum_scalar 83 val:double
SearchSorted searchsorted 93 right:bool
LogicalAndScalar logical_and_scalar 94 val:bool
LogicalOrScalar logical_or_scalar 95 val:bool
LogicalXorScalar logical_xor_scalar 96 val:bool
EqualScalar equal_scalar 97 val:double
NotEqualScalar not_equal_scalar 98 val:double
GreaterEqualScalar greater_equal_scalar 99 val:double
GreaterScalar greater_scalar 100 val:double
LessEqualScalar less_equal_scalar 101 val:double
LessScalar less_scalar 102 val:double
ResetNaN reset_nan 106 val:double
ResetInf reset_inf 107 val:double
Constant constant 109 val:float shape:Shape
Arange arange 110 start:float stop:float step:float
Linspace linspace 111 start:float stop:float num:int64
BatchMatmul batch_matmul 116 transpose_a:bool transpose_b:bool
Round round 117
Ceil ceil 118
Floor floor 119
Concatenate concatenate 133 axis:int64
Split split 134 axis:int64
Stack stack 135 axis:int64
Slice slice 136 start:*int64 stop:*int64 step:*int64
Pad pad 137 pad_width:*int64 mode:string constant_value:float
Transpose transpose 138 axes:*int64
Broadcast broadcast 139 shape:Shape
BroadcastTo broadcast_to 140 axis:int64
Tile tile 141 reps:*int64
OneHot one_hot 142 shape:Shape
Flip flip 143 axes:*int64
Shift shift 144 shifts:*int64 border_mode:string
Sort sort 145 axis:int64 reverse:bool with_index:bool only_index:bool
Reshape reshape 146 shape:Shape inplace:bool
Shape shape 147 start:int64 end:int64
Trilu trilu 150 k:int64 upper:bool
Meshgrid meshgrid 151 ij_indexing:bool
BatchCholesky batch_cholesky 155 upper:bool
Gather gather 157 axis:int64 batch_dims:int64
ScatterNd scatter_nd 160 shape:*int64 add:bool
ScatterAdd scatter_add 161 axis:int64
BoolFill bool_fill 163 value:float
PackPaddedSequence pack_padded_sequence 164 batch_first:bool
PadPackedSequence pad_packed_sequence 165 batch_first:bool padding_value:float total_length:int64
Interpolate interpolate 167 output_size:*int64 mode:string align_corners:bool half_pixel:bool half_pixel_for_nn:bool channel_last:bool
ONNXResize onnx_resize 168 roi:*float scales:*float sizes:*int64 mode:string coordinate_transformation_mode:string cubic_coeff_a:float exclude_outside:int64 extrapolation_value:float nearest_mode:string
FFT fft 169 signal_ndim:int64 normalized:bool
IFFT ifft 170 signal_ndim:int64 normalized:bool
STFT stft 171 window_size:int64 stride:int64 fft_size:int64 window_type:string center:bool pad_mode:string as_istft_backward:bool
ISTFT istft 172 window_size:int64 stride:int64 fft_size:int64 window_type:string center:bool pad_mode:string as_stft_backward:bool
Dropout dropout 173 p:double seed:int64
TopKData top_k_data 174 k:int64 abs:bool reduce:bool base_axis:int64 largest:bool with_index:bool
TopKGrad top_k_grad 175 k:int64 abs:bool base_axis:int64
Rand rand 176 low:float high:float shape:Shape seed:int64
Randint randint 177 low:int64 high:int64 shape:Shape seed:int64
Randn randn 178 mu:float sigma:float shape:Shape seed:int64
RandBinomial rand_binomial 179 n:int64 p:float shape:Shape seed:int64
RandBeta rand_beta 180 alpha:float beta:float shape:Shape seed:int64
RandGamma rand_gamma 181 k:float theta:float shape:Shape seed:int64
RandomChoice random_choice 182 shape:Shape replace:bool seed:int64
RandomCrop random_crop 183 shape:Shape base_axis:int64 seed:int64
RandomFlip random_flip 184 axes:*int64 base_axis:int64 seed:int64
RandomShift random_shift 185 shifts:*int64 border_mode:string constant_value:float base_axis:int64 seed:int64
RandomErase random_erase 186 prob:float area_ratios:*float aspect_ratios:*float replacements:*float n:int64 share:bool inplace:bool base_axis:int64 seed:int64 channel_last:bool ste_fine_grained:bool
ImageAugmentation image_augmentation 187 shape:Shape pad:Shape min_scale:float max_scale:float angle:float aspect_ratio:float distortion:float flip_lr:bool flip_ud:bool brightness:float brightness_each:bool contrast:float contrast_center:float contrast_each:bool noise:float seed:int64
SoftmaxCrossEntropy softmax_cross_entropy 190 axis:int64
CategoricalCrossEntropy categorical_cross_entropy 191 axis:int64
HuberLoss huber_loss 194 delta:float
EpsilonInsensitiveLoss epsilon_insensitive_loss 195 epsilon:float
KLMultinomial kl_multinomial 196 base_axis:int64
AffineGrid affine_grid 197 size:*int64 align_corners:bool
WarpByGrid warp_by_grid 198 mode:string padding_mode:string align_corners:bool channel_last:bool
BinaryConnectAffine binary_connect_affine 202 base_axis:int64 quantize_zero_to:float
BinaryConnectConvolution binary_connect_convolution 203 base_axis:int64 pad:Shape stride:Shape dilation:Shape group:int64 quantize_zero_to:float
BinaryWeightAffine binary_weight_affine 204 base_axis:int64 quantize_zero_to:float
BinaryWeightConvolution binary_weight_convolution 205 base_axis:int64 pad:Shape stride:Shape dilation:Shape group:int64 quantize_zero_to:float
INQAffine inq_affine 206 base_axis:int64 num_bits:int64 inq_iterations:*int64 selection_algorithm:string seed:int64
INQConvolution inq_convolution 207 base_axis:int64 pad:Shape stride:Shape dilation:Shape group:int64 num_bits:int64 inq_iterations:*int64 selection_algorithm:string seed:int64
FixedPointQuantize fixed_point_quantize 208 sign:bool n:int64 delta:float ste_fine_grained:bool
MinMaxQuantize min_max_quantize 209 decay:float x_min_max:bool ema:bool ste_fine_grained:bool eps:float
Pow2Quantize pow2_quantize 210 sign:bool with_zero:bool n:int64 m:int64 ste_fine_grained:bool
Prune prune 211 rate:float
QuantizeLinear quantize_linear 212 round_mode:string narrow_range:bool dtype:int64
TopNError top_n_error 214 axis:int64 n:int64
ConfusionMatrix confusion_matrix 216 axis:int64
VATNoise vat_noise 217 base_axis:int64 eps:float
Sink sink 219 one_input_grad:bool
NmsDetection2d nms_detection2d 220 thresh:float nms:float nms_per_class:bool
ONNXNonMaxSuppression onnx_non_max_suppression 221 center_point_box:int64 max_output_boxes_per_class:int64 iou_threshold:float score_threshold:float
MaxPoolingBackward max_pooling_backward 222 kernel:Shape stride:Shape ignore_border:bool pad:Shape channel_last:bool
PatchCorrelation patch_correlation 223 patch:Shape shift:Shape patch_step:Shape shift_step:Shape padding:Shape
Unique unique 224 flatten:bool axis:int64 sorted:bool with_index:bool with_inverse:bool with_counts:bool
EyeLike eye_like 225 k:int64
Mod2 mod2 226 fmod:bool
BitShift bit_shift 227 direction:string
Einsum einsum 228 equation:string
"""

_F = descriptor_pb2.FieldDescriptorProto
_SCALAR_TYPES = {
    "int64": _F.TYPE_INT64,
    "uint32": _F.TYPE_UINT32,
    "float": _F.TYPE_FLOAT,
    "double": _F.TYPE_DOUBLE,
    "bool": _F.TYPE_BOOL,
    "string": _F.TYPE_STRING,
}


def _set_type(field, type_name):
    scalar = _SCALAR_TYPES.get(type_name)
    if scalar is not None:
        field.type = scalar
    else:
        field.type = _F.TYPE_MESSAGE
        field.type_name = "." + type_name


def _add_field(message, spec):
    """Add one field described as ``name number type [packed]`` to ``message``."""
    parts = spec.split()
    name, number, type_spec = parts[0], int(parts[1]), parts[2]
    field = message.field.add(name=name, number=number, json_name=_camel(name))
    if "|" in type_spec:
        type_spec, group = type_spec.split("|")
        index = next((i for i, o in enumerate(message.oneof_decl) if o.name == group), None)
        if index is None:
            index = len(message.oneof_decl)
            message.oneof_decl.add(name=group)
        field.oneof_index = index
    if type_spec.startswith("map:"):
        _, key_type, value_type = type_spec.split(":")
        entry = message.nested_type.add(name=_camel(name, upper=True) + "Entry")
        entry.options.map_entry = True
        key = entry.field.add(name="key", number=1, label=_F.LABEL_OPTIONAL, json_name="key")
        _set_type(key, key_type)
        value = entry.field.add(name="value", number=2, label=_F.LABEL_OPTIONAL,
                                json_name="value")
        _set_type(value, value_type)
        field.label = _F.LABEL_REPEATED
        field.type = _F.TYPE_MESSAGE
        field.type_name = f".{message.name}.{entry.name}"
        return
    if type_spec.startswith("*"):
        field.label = _F.LABEL_REPEATED
        type_spec = type_spec[1:]
    else:
        field.label = _F.LABEL_OPTIONAL
    _set_type(field, type_spec)
    if "packed" in parts[3:]:
        field.options.packed = True


def _camel(name, upper=False):
    words = name.split("_")
    head = words[0].capitalize() if upper else words[0]
    return head + "".join(w.capitalize() for w in words[1:])


def _file_descriptor_proto():
    fdp = descriptor_pb2.FileDescriptorProto(name=_FILE_NAME, syntax="proto3")
    by_name = {}
    current = None
    for line in _MESSAGES.splitlines():
        if not line.strip():
            continue
        if not line.startswith(" "):
            current = fdp.message_type.add(name=line.strip())
            by_name[current.name] = current
        else:
            _add_field(current, line)
    function = by_name["Function"]
    params = {}
    for line in _FUNCTIONS.splitlines():
        if not line.strip():
            continue
        type_name, stem, offset, *args = line.split()
        message = fdp.message_type.add(name=type_name + "Parameter")
        for i, arg in enumerate(args, start=1):
            arg_name, arg_type = arg.split(":")
            _add_field(message, f"{arg_name} {i} {arg_type}")
        field_name = stem + "_param"
        _add_field(function, f"{field_name} {1000 + int(offset)} {message.name}|parameter")
        params[type_name] = field_name
    return fdp, params


_FDP, FUNCTION_PARAMS = _file_descriptor_proto()
_POOL = descriptor_pool.DescriptorPool()
DESCRIPTOR = _POOL.Add(_FDP)
if DESCRIPTOR is None:  # older runtimes return None from Add
    DESCRIPTOR = _POOL.FindFileByName(_FILE_NAME)

if hasattr(message_factory, "GetMessageClass"):
    _message_class = message_factory.GetMessageClass
else:  # protobuf < 4.22
    _message_class = message_factory.MessageFactory(_POOL).GetPrototype

for _message in _FDP.message_type:
    globals()[_message.name] = _message_class(_POOL.FindMessageTypeByName(_message.name))
del _message

__all__ = ["DESCRIPTOR", "FUNCTION_PARAMS"] + [m.name for m in _FDP.message_type]
