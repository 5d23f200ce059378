import { View, Button } from '@tarojs/components';

export default function CheckoutPage() {
  return (
    <View>
      <Button>支付</Button>
    </View>
  );
}
