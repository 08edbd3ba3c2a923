/* Why podmon's log records are written with writev(2) and not through io_uring: 200 MiB in 64 KiB
   appends to a file in /var/tmp, write(2) vs IORING_OP_WRITE (submitted and waited for, as a log
   record write must be), CPU of the whole process (getrusage: io_uring's kernel workers are its
   threads) and wall time, then the thread names (an ext4 buffered write is handed to an io-wq
   worker, "iou-wrk-PID").  cc -O2 -o /tmp/uwp bench/uring-write-probe.c && /tmp/uwp  */
#define _GNU_SOURCE
#include <linux/io_uring.h>
#include <sys/syscall.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <unistd.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>
static int fd; static struct io_uring_params p; static char *sq, *cq; static struct io_uring_sqe *sqes;
static void sub(int op, int f, void *addr, unsigned len, unsigned long long ud){
  unsigned *tail=(unsigned*)(sq+p.sq_off.tail), *mask=(unsigned*)(sq+p.sq_off.ring_mask), *arr=(unsigned*)(sq+p.sq_off.array);
  unsigned t=*tail, i=t&*mask; struct io_uring_sqe *e=&sqes[i]; memset(e,0,64); e->opcode=op; e->fd=f; e->addr=(unsigned long)addr; e->len=len; e->off=-1; e->user_data=ud;
  arr[i]=i; __atomic_store_n(tail,t+1,__ATOMIC_RELEASE);
}
static int reap(void){ unsigned *h=(unsigned*)(cq+p.cq_off.head),*t=(unsigned*)(cq+p.cq_off.tail),*m=(unsigned*)(cq+p.cq_off.ring_mask); int c=0;
  while(*h!=__atomic_load_n(t,__ATOMIC_ACQUIRE)){ struct io_uring_cqe*e=(void*)(cq+p.cq_off.cqes)+(*h&*m)*16; if(e->res<0) printf("err %d\n",e->res); (*h)++; c++;} return c;}
static double cpu(void){ struct rusage r; getrusage(RUSAGE_SELF,&r); return r.ru_utime.tv_sec+r.ru_stime.tv_sec+(r.ru_utime.tv_usec+r.ru_stime.tv_usec)/1e6; }
static double now(void){ struct timespec ts; clock_gettime(CLOCK_MONOTONIC,&ts); return ts.tv_sec+ts.tv_nsec/1e9; }
int main(int argc,char**argv){
  p.flags = IORING_SETUP_SINGLE_ISSUER|IORING_SETUP_DEFER_TASKRUN;
  fd=syscall(SYS_io_uring_setup,8,&p);
  sq=mmap(0,p.sq_off.array+p.sq_entries*4,PROT_READ|PROT_WRITE,MAP_SHARED|MAP_POPULATE,fd,IORING_OFF_SQ_RING);
  cq=sq; sqes=mmap(0,p.sq_entries*64,PROT_READ|PROT_WRITE,MAP_SHARED|MAP_POPULATE,fd,IORING_OFF_SQES);
  char *big=malloc(65536); memset(big,'x',65536); int N=3200;
  for (int round=0; round<2; round++) {
  int f=open("/var/tmp/uw1",O_WRONLY|O_CREAT|O_TRUNC|O_APPEND,0600);
  double c0=cpu(), t0=now(); for(int i=0;i<N;i++) write(f,big,65536); double c1=cpu(), t1=now(); close(f);
  printf("write(2): cpu %.3f s wall %.3f s\n", c1-c0, t1-t0);
  f=open("/var/tmp/uw2",O_WRONLY|O_CREAT|O_TRUNC|O_APPEND,0600);
  c0=cpu(); t0=now(); for(int i=0;i<N;i++){ sub(IORING_OP_WRITE,f,big,65536,i); syscall(SYS_io_uring_enter,fd,1,1,IORING_ENTER_GETEVENTS,0,0); reap(); } c1=cpu(); t1=now(); close(f);
  printf("io_uring WRITE (submit+wait): cpu %.3f s wall %.3f s\n", c1-c0, t1-t0);
  fflush(stdout); char path[200]; snprintf(path, sizeof path, "printf \"threads: \"; cat /proc/%d/task/*/comm | tr \"\\\\n\" \" \"; echo", getpid()); system(path);
  unlink("/var/tmp/uw1"); unlink("/var/tmp/uw2"); }
  return 0; }
