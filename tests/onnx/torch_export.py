# Exports small PyTorch nets (eval mode, opset 13, dynamic batch) with an input and PyTorch's output as TensorProto
# files into the folder argv[1], for tests/test_onnx_torch.cpp. Run with Debian's /usr/bin/python3.
import os, sys
import torch, torch.nn as nn, onnx
from onnx import numpy_helper
torch.manual_seed(0)
class Block(nn.Module):
    def __init__(s, c):
        super().__init__(); s.c1=nn.Conv2d(c,c,3,padding=1,bias=False); s.b1=nn.BatchNorm2d(c); s.c2=nn.Conv2d(c,c,3,padding=1,bias=False); s.b2=nn.BatchNorm2d(c)
    def forward(s,x): return torch.relu(s.b2(s.c2(torch.relu(s.b1(s.c1(x)))))+x)
nets={
 'lenet': nn.Sequential(nn.Conv2d(1,6,5,padding=2),nn.ReLU(),nn.MaxPool2d(2),nn.Conv2d(6,16,5),nn.ReLU(),nn.MaxPool2d(2),nn.Flatten(),nn.Linear(400,120),nn.ReLU(),nn.Linear(120,84),nn.ReLU(),nn.Linear(84,10)),
 'seed5': nn.Sequential(nn.Conv2d(1,6,5),nn.ReLU(),nn.MaxPool2d(2),nn.Conv2d(6,12,5),nn.ReLU(),nn.MaxPool2d(2),nn.Flatten(),nn.Linear(192,10)),
 'res': nn.Sequential(nn.Conv2d(3,8,3,padding=1,bias=False),nn.BatchNorm2d(8),nn.ReLU(),Block(8),nn.AdaptiveAvgPool2d(1),nn.Flatten(),nn.Linear(8,10)),
}
shapes={'lenet':(2,1,28,28),'seed5':(3,1,28,28),'res':(2,3,16,16)}
out = sys.argv[1]
for k,n in nets.items():
    n.eval()
    for m in n.modules():
        if isinstance(m,nn.BatchNorm2d): m.running_mean.uniform_(-.5,.5); m.running_var.uniform_(.5,2)
    x=torch.randn(*shapes[k])
    torch.onnx.export(n,x,os.path.join(out, k+'.onnx'),opset_version=13,input_names=['x'],output_names=['y'],dynamic_axes={'x':{0:'N'},'y':{0:'N'}})
    y=n(x)
    open(os.path.join(out, k+'_x.pb'),'wb').write(numpy_helper.from_array(x.numpy(),'x').SerializeToString())
    open(os.path.join(out, k+'_y.pb'),'wb').write(numpy_helper.from_array(y.detach().numpy(),'y').SerializeToString())
