export default defineAppConfig({
  pages: ['pages/checkout/index'],
  window: {
    navigationBarTitleText: '收银台',
    navigationBarBackgroundColor: '#ffffff',
    navigationBarTextStyle: 'black',
  },
});
