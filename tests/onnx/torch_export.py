# Exports small PyTorch nets (eval mode, opset 13, dynamic batch) with an input and PyTorch's output as TensorProto
# files into the folder argv[1], for tests/test_onnx_torch.cpp; the ResNet-8 also in training mode (its
# BatchNormalization nodes normalise with the batch's statistics). Run with Debian's /usr/bin/python3.
import os, sys
import torch, torch.nn as nn, onnx
from onnx import numpy_helper
torch.manual_seed(0)
class Block(nn.Module):
    def __init__(s, c):
        super().__init__(); s.c1=nn.Conv2d(c,c,3,padding=1,bias=False); s.b1=nn.BatchNorm2d(c); s.c2=nn.Conv2d(c,c,3,padding=1,bias=False); s.b2=nn.BatchNorm2d(c)
    def forward(s,x): return torch.relu(s.b2(s.c2(torch.relu(s.b1(s.c1(x)))))+x)
class Basic(nn.Module):  # He et al.'s CIFAR block; a 1x1 projection where the shape changes
    def __init__(s, i, o, stride):
        super().__init__()
        s.c1=nn.Conv2d(i,o,3,stride,1,bias=False); s.b1=nn.BatchNorm2d(o); s.c2=nn.Conv2d(o,o,3,1,1,bias=False); s.b2=nn.BatchNorm2d(o)
        s.proj = nn.Sequential(nn.Conv2d(i,o,1,stride,bias=False),nn.BatchNorm2d(o)) if stride!=1 or i!=o else nn.Identity()
    def forward(s,x): return torch.relu(s.b2(s.c2(torch.relu(s.b1(s.c1(x)))))+s.proj(x))
def resnet8():
    return nn.Sequential(nn.Conv2d(3,16,3,padding=1,bias=False),nn.BatchNorm2d(16),nn.ReLU(),Basic(16,16,1),Basic(16,32,2),Basic(32,64,2),nn.AdaptiveAvgPool2d(1),nn.Flatten(),nn.Linear(64,10))
def alexnet_cifar():  # the seeds' AlexNet pattern for 32x32x3, as the preset alexnet-cifar
    c=lambda i,o: [nn.Conv2d(i,o,3,padding=1),nn.ReLU()]
    return nn.Sequential(*c(3,64),nn.MaxPool2d(2),*c(64,128),nn.MaxPool2d(2),*c(128,256),*c(256,256),*c(256,128),nn.MaxPool2d(2),nn.Flatten(),nn.Dropout(0.5),nn.Linear(2048,512),nn.ReLU(),nn.Dropout(0.5),nn.Linear(512,512),nn.ReLU(),nn.Linear(512,10))
nets={
 'resnet8': resnet8(), 'resnet8_train': resnet8(), 'alexcifar': alexnet_cifar(),
 'lenet': nn.Sequential(nn.Conv2d(1,6,5,padding=2),nn.ReLU(),nn.MaxPool2d(2),nn.Conv2d(6,16,5),nn.ReLU(),nn.MaxPool2d(2),nn.Flatten(),nn.Linear(400,120),nn.ReLU(),nn.Linear(120,84),nn.ReLU(),nn.Linear(84,10)),
 'seed5': nn.Sequential(nn.Conv2d(1,6,5),nn.ReLU(),nn.MaxPool2d(2),nn.Conv2d(6,12,5),nn.ReLU(),nn.MaxPool2d(2),nn.Flatten(),nn.Linear(192,10)),
 # windows other than k×k: rectangular, dilated, a stride per axis, an uncounted padded average; and 1-D signals
 'windows': nn.Sequential(nn.Conv2d(3,8,3,padding=1),nn.ReLU(),nn.MaxPool2d((2,3),stride=(1,2),dilation=(2,1)),
                          nn.AvgPool2d((3,1),stride=(2,1),padding=(1,0),count_include_pad=False),
                          nn.Flatten(),nn.Linear(200,10)),
 'conv1d': nn.Sequential(nn.Conv1d(2,6,5,padding=2),nn.ReLU(),nn.MaxPool1d(3,stride=2),nn.Conv1d(6,8,3),nn.ReLU(),
                         nn.AvgPool1d(2),nn.Flatten(),nn.Linear(64,4)),
 'res': nn.Sequential(nn.Conv2d(3,8,3,padding=1,bias=False),nn.BatchNorm2d(8),nn.ReLU(),Block(8),nn.AdaptiveAvgPool2d(1),nn.Flatten(),nn.Linear(8,10)),
}
shapes={'lenet':(2,1,28,28),'seed5':(3,1,28,28),'res':(2,3,16,16),'resnet8':(2,3,32,32),'resnet8_train':(4,3,32,32),'alexcifar':(2,3,32,32),'windows':(2,3,12,12),'conv1d':(3,2,40)}
out = sys.argv[1]
for k,n in nets.items():
    train = k.endswith('_train')
    n.train(train)
    for m in n.modules():
        if isinstance(m,nn.BatchNorm2d):
            m.running_mean.uniform_(-.5,.5); m.running_var.uniform_(.5,2); m.weight.data.uniform_(.5,1.5); m.bias.data.uniform_(-.5,.5)
    x=torch.randn(*shapes[k])
    mode = torch.onnx.TrainingMode.TRAINING if train else torch.onnx.TrainingMode.EVAL
    torch.onnx.export(n,x,os.path.join(out, k+'.onnx'),opset_version=13,input_names=['x'],output_names=['y'],dynamic_axes={'x':{0:'N'},'y':{0:'N'}},training=mode,do_constant_folding=not train)
    with torch.no_grad(): y=n(x)
    open(os.path.join(out, k+'_x.pb'),'wb').write(numpy_helper.from_array(x.numpy(),'x').SerializeToString())
    open(os.path.join(out, k+'_y.pb'),'wb').write(numpy_helper.from_array(y.detach().numpy(),'y').SerializeToString())
