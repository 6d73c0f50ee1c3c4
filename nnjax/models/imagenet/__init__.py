"""ImageNet classification models (``nnabla.models.imagenet``)."""
from .resnet import ResNet, ResNet18, ResNet34, ResNet50, ResNet101, ResNet152  # noqa: F401
from .mobilenet import MobileNet, MobileNetV2  # noqa: F401
